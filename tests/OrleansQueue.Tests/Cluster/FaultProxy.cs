using System.Net;
using System.Net.Sockets;

namespace OrleansQueue.Tests.Cluster;

/// <summary>
/// A TCP proxy on loopback between a silo and its store, to put faults on the way: <see cref="Mode.Pass"/> forwards,
/// <see cref="Mode.Blackhole"/> holds every byte in both directions (as a partition does: nothing arrives, nothing is
/// refused, and what was held goes on once it heals, as TCP's retransmissions would), <see cref="Mode.Reset"/> resets
/// every connection and each new one, <see cref="Mode.Delay"/> forwards each chunk after <see cref="Delay"/>.
/// <see cref="Isolate"/> holds only the connections that one process opened (found through /proc, Linux only), as a
/// partition of that process would: its peers' connections to the same endpoint go on.
/// </summary>
public sealed class FaultProxy : IAsyncDisposable
{
    public enum Mode { Pass, Blackhole, Reset, Delay }

    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly IPEndPoint _target;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Socket> _connections = [];
    private readonly HashSet<Socket> _held = [];
    private int? _isolated;
    private readonly Task _accepting;
    private TaskCompletionSource _healed = NewGate(open: true);
    private Mode _mode = Mode.Pass;

    public FaultProxy(string target)
    {
        var parts = target.Split(':');
        _target = new IPEndPoint(IPAddress.Parse(parts[0]), int.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture));
        _listener.Start();
        _accepting = AcceptAsync();
    }

    /// <summary>Where the silo connects: host:port.</summary>
    public string Address => $"127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}";

    public TimeSpan Delay { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>Holds every byte of the connections process <paramref name="processId"/> opened to this proxy, now and
    /// until <see cref="Set"/> is called (which heals them as it heals a blackhole).</summary>
    public void Isolate(int processId)
    {
        lock (_connections)
        {
            _isolated = processId;
            if (_healed.Task.IsCompleted)
                _healed = NewGate(open: false);
            var theirs = ProcessSockets.Of(processId);
            for (int i = 0; i < _connections.Count; i += 2)
            {
                if (ProcessSockets.Opened(_connections[i], theirs))
                    _held.Add(_connections[i]);
            }
        }
    }

    public void Set(Mode mode)
    {
        lock (_connections)
        {
            _mode = mode;
            _isolated = null;
            _held.Clear();
            if (mode == Mode.Blackhole)
            {
                if (_healed.Task.IsCompleted)
                    _healed = NewGate(open: false);
            }
            else
            {
                _healed.TrySetResult();
            }
            if (mode == Mode.Reset)
            {
                foreach (var socket in _connections)
                    ResetQuietly(socket);
                _connections.Clear();
            }
        }
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _listener.AcceptSocketAsync(_stop.Token);
            }
            catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }
            _ = ServeAsync(client);
        }
    }

    private async Task ServeAsync(Socket client)
    {
        if (_mode == Mode.Reset)
        {
            ResetQuietly(client);
            return;
        }
        var server = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            await server.ConnectAsync(_target, _stop.Token);
        }
        catch (Exception)
        {
            ResetQuietly(client);
            server.Dispose();
            return;
        }
        lock (_connections)
        {
            _connections.Add(client);
            _connections.Add(server);
            if (_isolated is { } isolated && ProcessSockets.Opened(client, ProcessSockets.Of(isolated)))
                _held.Add(client);
        }
        await Task.WhenAll(PumpAsync(client, server, client), PumpAsync(server, client, client));
        ResetQuietly(client);
        ResetQuietly(server);
    }

    private async Task PumpAsync(Socket from, Socket to, Socket accepted)
    {
        var buffer = new byte[16 * 1024];
        try
        {
            while (true)
            {
                int read = await from.ReceiveAsync(buffer, SocketFlags.None, _stop.Token);
                if (read == 0)
                    return;
                Task healed;
                lock (_connections)
                    healed = _mode == Mode.Blackhole || _held.Contains(accepted) ? _healed.Task : Task.CompletedTask;
                await healed.WaitAsync(_stop.Token); // held while the hole lasts
                if (_mode == Mode.Delay)
                    await Task.Delay(Delay, _stop.Token);
                await to.SendAsync(buffer.AsMemory(0, read), SocketFlags.None, _stop.Token);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }
        finally
        {
            ResetQuietly(to);
        }
    }

    private static void ResetQuietly(Socket socket)
    {
        try
        {
            socket.LingerState = new LingerOption(true, 0); // a reset, not a graceful close
            socket.Close();
        }
        catch (Exception)
        {
        }
    }

    private static TaskCompletionSource NewGate(bool open)
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (open)
            gate.SetResult();
        return gate;
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _accepting;
        Set(Mode.Reset);
    }
}

/// <summary>Which process opened a loopback connection: the socket inodes a process holds (/proc/&lt;pid&gt;/fd) and the
/// inode of the far end of an accepted connection (/proc/net/tcp and tcp6, by its ports).</summary>
internal static class ProcessSockets
{
    public static HashSet<long> Of(int processId)
    {
        var inodes = new HashSet<long>();
        foreach (string fd in Directory.EnumerateFiles($"/proc/{processId}/fd"))
        {
            try
            {
                if (File.ResolveLinkTarget(fd, returnFinalTarget: false)?.Name is { } target && target.StartsWith("socket:[", StringComparison.Ordinal))
                    inodes.Add(long.Parse(target[8..^1], System.Globalization.CultureInfo.InvariantCulture));
            }
            catch (IOException)
            {
                // closed while we looked
            }
        }
        return inodes;
    }

    /// <summary>Whether the far end of <paramref name="accepted"/> is one of <paramref name="inodes"/>.</summary>
    public static bool Opened(Socket accepted, HashSet<long> inodes)
    {
        if (accepted.RemoteEndPoint is not IPEndPoint remote || accepted.LocalEndPoint is not IPEndPoint local)
            return false;
        foreach (string table in new[] { "/proc/net/tcp", "/proc/net/tcp6" })
        {
            foreach (string line in File.ReadLines(table).Skip(1))
            {
                // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
                var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (fields.Length > 9 && Port(fields[1]) == remote.Port && Port(fields[2]) == local.Port
                    && inodes.Contains(long.Parse(fields[9], System.Globalization.CultureInfo.InvariantCulture)))
                {
                    return true;
                }
            }
        }
        return false;
    }

    private static int Port(string address) => int.Parse(address[(address.LastIndexOf(':') + 1)..], System.Globalization.NumberStyles.HexNumber, System.Globalization.CultureInfo.InvariantCulture);
}
