namespace OrleansQueue.Scheduling.Internals;

/// <summary>
/// What changed since the host last took the changes (<see cref="ResourceScheduler.TakeChanges"/>): the requests whose state
/// moved (by id: the scheduler writes each as it is then, or deletes it when it is gone), the window entries a release
/// corrected, how far the window had been written, and whether the policy changed. Off until a host that persists turns
/// it on; then every change of a request's state passes through <see cref="RequestChanged"/>. The scheduler reads what
/// changed into a change set, then calls <see cref="Written"/>.
/// </summary>
internal sealed class ChangeTracker
{
    private HashSet<long>? _requests;
    private List<long>? _window;
    private List<JobOutputChunk>? _output;

    public bool IsOn => _requests is not null;

    /// <summary>The first window entry not written yet.</summary>
    public long WrittenWindowUpTo { get; private set; }

    public bool PolicyDirty { get; private set; }

    /// <summary>Turns tracking on; the window is written up to <paramref name="windowNextSeq"/> already.</summary>
    public void Start(long windowNextSeq)
    {
        if (IsOn)
            return;
        _requests = [];
        _window = [];
        _output = [];
        WrittenWindowUpTo = windowNextSeq;
    }

    public void RequestChanged(long id) => _requests?.Add(id);

    /// <summary>A window entry already written was corrected (a release reported its real load).</summary>
    public void WindowChanged(long seq) => _window?.Add(seq);

    public void PolicyChanged() => PolicyDirty = true;

    /// <summary>A worker appended to a job's output.</summary>
    public void OutputAppended(JobOutputChunk chunk) => _output?.Add(chunk);

    /// <summary>The output appended since the last <see cref="Written"/>, in order.</summary>
    public IReadOnlyList<JobOutputChunk> Output => _output ?? throw new InvalidOperationException("Changes are not tracked.");

    /// <summary>The requests changed since the last <see cref="Written"/>.</summary>
    public IReadOnlyCollection<long> Requests => _requests ?? throw new InvalidOperationException("Changes are not tracked.");

    /// <summary>The window entries corrected since the last <see cref="Written"/>.</summary>
    public IReadOnlyList<long> CorrectedWindow => _window ?? throw new InvalidOperationException("Changes are not tracked.");

    /// <summary>What changed has been taken to be written: start afresh, the window written up to <paramref name="windowNextSeq"/>.</summary>
    public void Written(long windowNextSeq)
    {
        _requests?.Clear();
        _window?.Clear();
        _output?.Clear();
        WrittenWindowUpTo = windowNextSeq;
        PolicyDirty = false;
    }
}
