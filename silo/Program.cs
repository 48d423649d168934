using OrleansQueue.Silo.Hosting;

var builder = WebApplication.CreateBuilder(args);
builder.AddOrleansQueueSilo();
var app = builder.Build();
app.MapOrleansQueueSilo();
app.Run();

/// <summary>The silo's entry point (named for WebApplicationFactory in tests).</summary>
public partial class Program;
