using Clarifai.Auth.Scope;
using Clarifai.Auth.Types;
using Iris.Contracts.Descriptors;
using Iris.Core.Errors;
using Iris.Server.Auth;
using Iris.Server.Identity;
using StatusCode = Clarifai.Api.Status.StatusCode;

namespace Iris.Server.Tests.Identity;

/// <summary>Scope names and per-RPC requirements come from the descriptors; the request budget is a token bucket.</summary>
public sealed class ScopeAndBudgetUnitTests
{
    [Fact]
    public void Every_scope_an_RPC_requires_has_a_wire_name_that_parses_back()
    {
        foreach (var rpc in ApiCatalog.Instance.Rpcs)
        {
            foreach (var scope in rpc.RequiredScopes)
            {
                var name = ScopeCatalog.NameOf(scope);
                Assert.True(ScopeCatalog.TryParse(name, out var back), $"{rpc.Name}: {name}");
                Assert.Equal(scope, back);
            }
        }

        Assert.Equal("Apps_Get", ScopeCatalog.NameOf(S.AppsGet));
        Assert.False(ScopeCatalog.TryParse("apps_get", out _));
        Assert.Equal("PostModelOutputs", ScopeCatalog.ParseEndpoint("/clarifai.api.V2/PostModelOutputs"));
        Assert.Null(ScopeCatalog.ParseEndpoint("/clarifai.api.V2/NoSuchRpc"));
    }

    [Fact]
    public void An_API_key_needs_every_depending_scope_unless_it_holds_All_or_the_endpoint()
    {
        var postInputs = ApiCatalog.Instance.Find("PostInputs")!;
        Assert.Equal(AuthType.KeyAuth, postInputs.AuthType);
        var all = new Principal("u", CredentialKind.ApiKey, "a") { Scopes = new HashSet<S> { S.All } };
        Authorizer.Authorize(postInputs, all);

        var some = new Principal("u", CredentialKind.ApiKey, "a") { Scopes = new HashSet<S> { S.InputsAdd, S.InputsGet } };
        var error = Assert.Throws<IrisException>(() => Authorizer.Authorize(postInputs, some));
        Assert.Equal(StatusCode.ConnInsufficientScopes, error.Code);
        var expected = postInputs.RequiredScopes.Where(s => s is not (S.InputsAdd or S.InputsGet)).Select(ScopeCatalog.NameOf);
        Assert.Equal($"The API key lacks the scopes {string.Join(", ", expected)} required by PostInputs.", error.Details);

        var endpoint = some with { Endpoints = new HashSet<string>(StringComparer.Ordinal) { "PostInputs" } };
        Authorizer.Authorize(postInputs, endpoint);

        var pat = new Principal("u", CredentialKind.PersonalAccessToken);
        Authorizer.Authorize(ApiCatalog.Instance.Find("PostApps")!, pat);
        Assert.Equal(StatusCode.ConnKeyInvalid, Assert.Throws<IrisException>(() => Authorizer.Authorize(ApiCatalog.Instance.Find("PostApps")!, all)).Code);
    }

    [Fact]
    public void The_budget_refills_at_the_configured_rate()
    {
        var clock = new ManualClock();
        var budget = new RequestBudget(new IdentityOptions { RateLimitPerSecond = 2, RateLimitBurst = 2 }, clock);
        Assert.Null(budget.TrySpend("k"));
        Assert.Null(budget.TrySpend("k"));
        Assert.Equal(TimeSpan.FromSeconds(0.5), budget.TrySpend("k"));
        Assert.Null(budget.TrySpend("other"));

        clock.Advance(TimeSpan.FromSeconds(0.5));
        Assert.Null(budget.TrySpend("k"));
        Assert.NotNull(budget.TrySpend("k"));

        Assert.Null(new RequestBudget(new IdentityOptions(), clock).TrySpend("k"));
    }

    private sealed class ManualClock : TimeProvider
    {
        private long _ticks;

        public override long TimestampFrequency => TimeSpan.TicksPerSecond;

        public override long GetTimestamp() => _ticks;

        public void Advance(TimeSpan by) => _ticks += by.Ticks;
    }
}
