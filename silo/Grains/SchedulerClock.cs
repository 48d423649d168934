namespace OrleansQueue.Silo.Grains;

/// <summary>
/// The clock of the schedulers and their deadline timers: a keyed <see cref="TimeProvider"/>, so that tests can drive
/// the resources' time by hand while Orleans itself runs on real time.
/// </summary>
public static class SchedulerClock
{
    public const string Key = "OrleansQueue.SchedulerClock";
}
