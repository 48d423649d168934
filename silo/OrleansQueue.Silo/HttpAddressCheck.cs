using System.Net;
using System.Net.Sockets;

namespace OrleansQueue.Silo;

/// <summary>
/// The silo's HTTP addresses, tried before anything starts: a port another process listens on (a second silo started by
/// mistake, say) stops the start at once, before Orleans joins a cluster or the store claims a resource, rather than after
/// (Kestrel binds last).
/// </summary>
internal static class HttpAddressCheck
{
    public static void EnsureFree(IEnumerable<string> urls)
    {
        foreach (string url in urls.Where(u => u.Length > 0))
        {
            if (!Uri.TryCreate(url.Replace("*", "wildcard").Replace("+", "wildcard"), UriKind.Absolute, out var uri) || uri.Port <= 0)
                continue;
            IPAddress? address = uri.Host switch
            {
                "wildcard" or "0.0.0.0" => IPAddress.Any,
                "localhost" => IPAddress.Loopback,
                _ => IPAddress.TryParse(uri.Host.Trim('[', ']'), out var ip) ? ip : null,
            };
            if (address is null)
                continue;
            try
            {
                var listener = new TcpListener(address, uri.Port);
                listener.Start();
                listener.Stop();
            }
            catch (SocketException ex) when (ex.SocketErrorCode == SocketError.AddressAlreadyInUse)
            {
                throw new HttpAddressInUseException(url);
            }
        }
    }
}

/// <summary>The silo's HTTP address is taken by another process: nothing was started.</summary>
public sealed class HttpAddressInUseException(string url) : InvalidOperationException(
    $"The silo's HTTP address {url} is in use by another process (another silo?): nothing was started. " +
    "Stop that process, or give this silo another address (--urls http://127.0.0.1:PORT).");
