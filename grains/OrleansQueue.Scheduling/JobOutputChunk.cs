namespace OrleansQueue.Scheduling;

/// <summary>A stretch of a job's output: <paramref name="Text"/>, which starts <paramref name="Offset"/> bytes (UTF-8) into
/// everything the job's workers appended. A worker's append is one chunk; a store may join a job's adjacent chunks into one.</summary>
public sealed record JobOutputChunk(long JobId, long Offset, string Text);
