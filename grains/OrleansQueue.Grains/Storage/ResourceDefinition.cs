using OrleansQueue.Scheduling;

namespace OrleansQueue.Grains.Storage;

/// <summary>A resource as the administrator defined it: its policy and whether grants are pushed.</summary>
/// <param name="Name">The resource's name.</param>
/// <param name="Policy">Its budget and waitlist rules.</param>
/// <param name="PushEnabled">Whether grants are pushed (SSE, WebSocket); when false, callers poll.</param>
internal sealed record ResourceDefinition(string Name, ResourcePolicy Policy, bool PushEnabled = true);
