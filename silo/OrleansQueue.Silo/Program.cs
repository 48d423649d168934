using OrleansQueue.Silo;

try
{
    var builder = WebApplication.CreateBuilder(args);
    builder.AddOrleansQueueSilo();
    var app = builder.Build();
    app.MapOrleansQueueSilo();
    app.Run();
}
catch (Exception refused) when (StartRefusal.Of(refused) is { } reason)
{
    // A refusal a user acts on (a setting that breaks a rule, a data folder that is another silo's): its message, not a stack trace.
    Console.Error.WriteLine(reason);
    return 1;
}
return 0;

/// <summary>The silo's entry point (named for WebApplicationFactory in tests).</summary>
public partial class Program;
