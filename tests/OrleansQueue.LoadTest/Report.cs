using System.Runtime.InteropServices;

namespace OrleansQueue.LoadTest;

internal static class Report
{
    public static string Render(string table, int seconds, int handoffs, Latencies handoff, Throughput cycles, Latencies wsFloor, bool statusCalls)
    {
        string Verdict(bool met) => met ? "**met**" : "**missed**";
        return $"""
            # End-to-end figures: the coordinator beside its floors

            Written by the load tool on {DateTimeOffset.UtcNow:yyyy-MM-dd HH:mm} UTC; {Environment.ProcessorCount} cores,
            {RuntimeInformation.OSDescription.Trim()}, .NET {Environment.Version}. The silo runs in the tool's process on a real
            Kestrel socket on loopback, with the durable SQLite store (WAL, synchronous NORMAL); the client is the real
            `OrleansQueueClient` over its WebSocket. Floors are measured in the same run, on the same machine.

                dotnet run -c Release --project tests/OrleansQueue.LoadTest -- --seconds {seconds} --handoffs {handoffs}

            {table}
            ## Goals

            | goal | figure | verdict |
            | --- | --- | --- |
            | hand-off p99 ≤ 1 ms (WebSocket, SQLite) | {handoff.P99:0.000} ms | {Verdict(handoff.P99 <= 1)} |
            | hand-off p50 ≤ 5× the raw WebSocket floor | {handoff.P50 / wsFloor.P50:0.0}× | {Verdict(handoff.P50 <= 5 * wsFloor.P50)} |
            | ≥ 50,000 acquire+release cycles/s on one hot resource, one silo, durable store | {cycles.PerSecond:N0}/s | {Verdict(cycles.PerSecond >= 50_000)} |
            | 10,000 resources, 100,000 waiting acquires over 1,000 connections under 1 GiB | not measured by this tool yet | **not measured** |
            | overshoot 0 and status calls while waiting 0 | {cycles.Overshoot + handoff.Overshoot} and {(statusCalls ? "some" : "0")} | {Verdict(cycles.Overshoot + handoff.Overshoot == 0 && !statusCalls)} |

            The silo and the load share one process and two cores, so every figure includes the load's own cost.

            """;
    }
}
