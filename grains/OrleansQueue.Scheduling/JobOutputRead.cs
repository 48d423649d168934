namespace OrleansQueue.Scheduling;

/// <summary>What a read of a job's output answers: <paramref name="Text"/> from <paramref name="Offset"/> up to
/// <paramref name="Next"/> (the offset to read after next time), and whether the job has finished, so that nothing more will
/// come once <paramref name="Next"/> reaches <paramref name="Length"/>.</summary>
public sealed record JobOutputRead(long Offset, string Text, long Next, long Length, JobState State);
