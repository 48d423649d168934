using OrleansQueue.Contracts;

namespace OrleansQueue.Tests.Scheduling;

/// <summary>A client id is "tenant:name" wherever it is written or read: composed for the caller, read back by the scheduler.</summary>
public sealed class ClientKeyTests
{
    [Theory]
    [InlineData("acme", "worker-1")]
    [InlineData("acme", "team:blue:7")] // a name may hold colons; the tenant ends at the first
    [InlineData("default", "")]
    public void WhatACallerComposesTheSchedulerReadsBack(string tenant, string name)
    {
        var caller = new Caller(tenant, IsAdmin: false);
        string id = caller.GrainClientId(name);

        Assert.True(ClientKey.TryParse(id, out var key));
        Assert.Equal(new ClientKey(tenant, name), key);
        Assert.Equal(tenant, ClientKey.TenantOf(id));
        Assert.True(caller.Owns(id));
        Assert.Equal(name, caller.ClientIdOf(id));
    }

    [Fact]
    public void AnotherTenantNeitherOwnsNorSeesTheName()
    {
        string id = new Caller("acme", false).GrainClientId("a");
        var other = new Caller("acm", false); // a prefix of the tenant is another tenant

        Assert.False(other.Owns(id));
        Assert.Equal(id, other.ClientIdOf(id));
    }

    [Theory]
    [InlineData("solo")]
    [InlineData(":starts-with-a-colon")]
    public void AnIdWithoutATenantIsATenantOfItsOwn(string id)
    {
        Assert.False(ClientKey.TryParse(id, out _));
        Assert.Equal(id, ClientKey.TenantOf(id));
    }
}
