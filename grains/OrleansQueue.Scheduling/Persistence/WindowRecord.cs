namespace OrleansQueue.Scheduling.Persistence;

/// <summary>One entry of the sliding window's spending log.</summary>
public sealed record WindowRecord(long Seq, long At, long Load, int Requests);
