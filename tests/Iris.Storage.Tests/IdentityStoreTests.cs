using System.Diagnostics;
using System.Security.Cryptography;
using Iris.Core.Apps;
using Iris.Storage.Db;
using Iris.Storage.Identity;
using Iris.Storage.Jobs;
using Iris.Storage.Tests.Infrastructure;

namespace Iris.Storage.Tests;

/// <summary>
/// The identity store: users, apps (visibility, rename, deletion as a queued purge), keys found by the hash of their
/// secret, collaborators; deleting a user takes their keys, collaborations and apps with them; ids taken by a racing
/// writer answer "taken", not an error; and a key deleted through one node stops on another within a second, although
/// key look-ups are cached.
/// </summary>
public abstract class IdentityStoreTests(IStoreBackend backend, string store) : StoreTestBase(backend, store)
{
    private readonly string _owner = "owner" + Guid.NewGuid().ToString("N")[..8];
    private readonly string _other = "other" + Guid.NewGuid().ToString("N")[..8];

    private SqlIdentityStore Identity => new(Db, Time);

    private DateTimeOffset Now => Time.GetUtcNow();

    private UserRecord User(string id) => new(id, "First", "Last", "Co", id + "@example.com", Gettable.Private, Now);

    private AppRecord App(string user, string id, int visibility = Gettable.Private) =>
        new(user, id, "name " + id, "description", "notes", "en", "General", visibility, false, 0, "{}", Now, Now);

    private KeyRecord Key(string id, string user, string? app = null, DateTimeOffset? expires = null) =>
        new(id, user, app is null ? KeyTypes.PersonalAccessToken : KeyTypes.AppSpecific, "key " + id, app, ["All"], [], Now, expires);

    private static byte[] Hash(string secret) => SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(secret));

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        var identity = Identity;
        await identity.CreateUserAsync(User(_owner), Ct);
        await identity.CreateUserAsync(User(_other), Ct);
    }

    [Fact]
    public async Task Users_are_created_once_found_listed_and_deleted()
    {
        var identity = Identity;
        Assert.False(await identity.CreateUserAsync(User(_owner), Ct));
        var found = await identity.FindUserAsync(_owner, Ct);
        Assert.Equal(User(_owner), found);
        Assert.Contains(await identity.ListUsersAsync(Ct), u => u.Id == _other);
        Assert.Contains(await identity.ListUsersAsync(Ct), u => u.Id == "clarifai");

        Assert.True(await identity.DeleteUserAsync(_other, Ct));
        Assert.False(await identity.DeleteUserAsync(_other, Ct));
        Assert.Null(await identity.FindUserAsync(_other, Ct));
    }

    [Fact]
    public async Task Apps_are_created_once_read_updated_and_listed_by_visibility_and_collaboration()
    {
        var identity = Identity;
        Assert.True(await identity.CreateAppAsync(App(_owner, "private"), Ct));
        Assert.True(await identity.CreateAppAsync(App(_owner, "public", Gettable.Public), Ct));
        Assert.True(await identity.CreateAppAsync(App(_owner, "shared"), Ct));
        Assert.False(await identity.CreateAppAsync(App(_owner, "private"), Ct));
        Assert.True(await identity.AddCollaboratorAsync(new CollaboratorRecord("col" + _other, new AppRef(_owner, "shared"), _other, ["All"], [], Now, Now), Ct));

        Assert.Equal(App(_owner, "private"), await identity.FindAppAsync(new AppRef(_owner, "private"), Ct));
        Assert.Equal(["private", "public", "shared"], (await identity.ListAppsAsync(_owner, _owner, Ct)).Select(a => a.Id).Order(StringComparer.Ordinal));
        Assert.Equal(["public", "shared"], (await identity.ListAppsAsync(_owner, _other, Ct)).Select(a => a.Id).Order(StringComparer.Ordinal));
        var visible = (await identity.ListVisibleAppsAsync(_other, Ct)).Select(a => a.Ref).ToList();
        Assert.Contains(new AppRef(_owner, "shared"), visible);
        Assert.Contains(new AppRef(_owner, "public"), visible);
        Assert.Contains(AppRef.ClarifaiMain, visible);
        Assert.DoesNotContain(new AppRef(_owner, "private"), visible);

        Time.Advance(TimeSpan.FromSeconds(3));
        var updated = App(_owner, "private", Gettable.Public) with { Name = "renamed", IsTemplate = true, SampleMs = 4_000_000_000, MetadataJson = "{\"a\":1}", CreatedAt = Now - TimeSpan.FromSeconds(3) };
        await identity.UpdateAppAsync(updated, Ct);
        Assert.Equal(updated, await identity.FindAppAsync(new AppRef(_owner, "private"), Ct));
    }

    [Fact]
    public async Task Renaming_an_app_carries_its_keys_and_collaborators_and_refuses_a_taken_id()
    {
        var identity = Identity;
        await identity.CreateAppAsync(App(_owner, "old"), Ct);
        await identity.CreateAppAsync(App(_owner, "taken"), Ct);
        await identity.CreateKeyAsync(Key("k" + _owner, _owner, "old"), Hash("secret" + _owner), Ct);
        await identity.AddCollaboratorAsync(new CollaboratorRecord("c" + _owner, new AppRef(_owner, "old"), _other, ["All"], [], Now, Now), Ct);

        Assert.False(await identity.RenameAppAsync(new AppRef(_owner, "old"), "taken", Now, Ct));
        Assert.False(await identity.RenameAppAsync(new AppRef(_owner, "missing"), "anything", Now, Ct));
        Assert.True(await identity.RenameAppAsync(new AppRef(_owner, "old"), "new", Now, Ct));

        Assert.Null(await identity.FindAppAsync(new AppRef(_owner, "old"), Ct));
        Assert.NotNull(await identity.FindAppAsync(new AppRef(_owner, "new"), Ct));
        Assert.Equal("new", (await identity.FindKeyAsync(_owner, "k" + _owner, Ct))?.AppId);
        Assert.NotNull(await identity.FindCollaboratorAsync(new AppRef(_owner, "new"), _other, Ct));
    }

    [Fact]
    public async Task Deleting_an_app_hides_it_drops_its_keys_and_collaborators_and_queues_its_purge()
    {
        var identity = Identity;
        var app = new AppRef(_owner, "doomed");
        await identity.CreateAppAsync(App(_owner, "doomed"), Ct);
        await identity.CreateKeyAsync(Key("k" + _owner, _owner, "doomed"), Hash("s" + _owner), Ct);
        await identity.AddCollaboratorAsync(new CollaboratorRecord("c" + _owner, app, _other, [], [], Now, Now), Ct);

        Assert.True(await identity.MarkAppDeletingAsync(app, Ct));
        Assert.False(await identity.MarkAppDeletingAsync(app, Ct));
        Assert.Null(await identity.FindAppAsync(app, Ct));
        Assert.Null(await identity.FindKeyByHashAsync(Hash("s" + _owner), Ct));
        Assert.Empty(await identity.ListCollaboratorsAsync(app, Ct));
        // Its id stays taken until the purge removes the row.
        Assert.False(await identity.CreateAppAsync(App(_owner, "doomed"), Ct));
        var job = await ClaimPurgeAsync(app);
        Assert.Equal("doomed", job?.Target);

        await identity.RemoveDeletedAppAsync(app, Ct);
        Assert.True(await identity.CreateAppAsync(App(_owner, "doomed"), Ct));
    }

    // The identity store stamps its purge jobs with the injected clock; claim on the same clock.
    private async Task<Job?> ClaimPurgeAsync(AppRef app)
    {
        var queue = new JobQueue(Db, Time);
        Job? job;
        while ((job = await queue.ClaimAsync(JobKinds.PurgeApp, "w", TimeSpan.FromMinutes(1), Ct)) is not null && job.App != app)
        {
        }

        return job;
    }

    [Fact]
    public async Task Keys_are_found_by_their_hash_listed_updated_and_deleted()
    {
        var identity = Identity;
        await identity.CreateAppAsync(App(_owner, "a1"), Ct);
        var pat = Key("pat" + _owner, _owner);
        var appKey = Key("app" + _owner, _owner, "a1", Now + TimeSpan.FromDays(1));
        await identity.CreateKeyAsync(pat, Hash("pat-secret" + _owner), Ct);
        Time.Advance(TimeSpan.FromSeconds(1));
        await identity.CreateKeyAsync(appKey, Hash("app-secret" + _owner), Ct);

        var found = await identity.FindKeyByHashAsync(Hash("pat-secret" + _owner), Ct);
        Assert.NotNull(found);
        Assert.Equal((pat.Id, pat.UserId, pat.Type, pat.AppId, pat.ExpiresAt), (found.Value.Key.Id, found.Value.Key.UserId, found.Value.Key.Type, found.Value.Key.AppId, found.Value.Key.ExpiresAt));
        Assert.Equal(Hash("pat-secret" + _owner), found.Value.StoredHash);
        Assert.Null(await identity.FindKeyByHashAsync(Hash("wrong"), Ct));
        Assert.Equal(appKey.ExpiresAt, (await identity.FindKeyAsync(_owner, appKey.Id, Ct))?.ExpiresAt);
        Assert.Equal([appKey.Id, pat.Id], (await identity.ListKeysAsync(_owner, null, Ct)).Select(k => k.Id));
        Assert.Equal([appKey.Id], (await identity.ListKeysAsync(_owner, "a1", Ct)).Select(k => k.Id));
        Assert.Null(await identity.FindKeyAsync(_other, pat.Id, Ct));

        await identity.UpdateKeyAsync(appKey with { Description = "changed", Scopes = ["Inputs_Get", "Apps_Get"], Endpoints = ["PostModelOutputs"], ExpiresAt = null }, Ct);
        var changed = await identity.FindKeyAsync(_owner, appKey.Id, Ct);
        Assert.Equal(("changed", null), (changed?.Description, changed?.ExpiresAt));
        Assert.Equal(["Inputs_Get", "Apps_Get"], changed?.Scopes);
        Assert.Equal(["PostModelOutputs"], changed?.Endpoints);

        Assert.True(await identity.DeleteKeyAsync(_owner, pat.Id, Ct));
        Assert.False(await identity.DeleteKeyAsync(_owner, pat.Id, Ct));
        Assert.Null(await identity.FindKeyByHashAsync(Hash("pat-secret" + _owner), Ct));
    }

    [Fact]
    public async Task Collaborators_are_added_once_updated_listed_and_removed()
    {
        var identity = Identity;
        var app = new AppRef(_owner, "team");
        await identity.CreateAppAsync(App(_owner, "team"), Ct);
        var collaborator = new CollaboratorRecord("c" + _other, app, _other, ["Inputs_Get"], [], Now, Now);
        Assert.True(await identity.AddCollaboratorAsync(collaborator, Ct));
        Assert.False(await identity.AddCollaboratorAsync(collaborator with { Id = "c2" + _other }, Ct));

        Time.Advance(TimeSpan.FromSeconds(1));
        await identity.UpdateCollaboratorAsync(collaborator with { Scopes = ["All"], ModifiedAt = Now }, Ct);
        var found = await identity.FindCollaboratorAsync(app, _other, Ct);
        Assert.Equal(["All"], found?.Scopes);
        Assert.Equal(Now, found?.ModifiedAt);
        Assert.Equal([_other], (await identity.ListCollaboratorsAsync(app, Ct)).Select(c => c.UserId));
        var collaboration = Assert.Single(await identity.ListCollaborationsAsync(_other, Ct));
        Assert.Equal((app, "name team"), (collaboration.App.Ref, collaboration.App.Name));

        Assert.True(await identity.DeleteCollaboratorAsync(app, _other, Ct));
        Assert.False(await identity.DeleteCollaboratorAsync(app, _other, Ct));
        Assert.Null(await identity.FindCollaboratorAsync(app, _other, Ct));
    }

    [Fact]
    public async Task Deleting_a_user_takes_their_keys_collaborations_and_apps()
    {
        var identity = Identity;
        await identity.CreateAppAsync(App(_other, "theirs"), Ct);
        await identity.CreateAppAsync(App(_owner, "mine"), Ct);
        await identity.CreateKeyAsync(Key("k" + _other, _other), Hash("k" + _other), Ct);
        await identity.AddCollaboratorAsync(new CollaboratorRecord("c" + _other, new AppRef(_owner, "mine"), _other, [], [], Now, Now), Ct);

        Assert.True(await identity.DeleteUserAsync(_other, Ct));
        Assert.Null(await identity.FindKeyByHashAsync(Hash("k" + _other), Ct));
        Assert.Empty(await identity.ListCollaboratorsAsync(new AppRef(_owner, "mine"), Ct));
        Assert.Null(await identity.FindAppAsync(new AppRef(_other, "theirs"), Ct));
        Assert.Equal("theirs", (await ClaimPurgeAsync(new AppRef(_other, "theirs")))?.Target);
    }

    [Fact]
    public async Task The_bootstrap_token_is_created_once_and_repointed_on_a_new_secret()
    {
        var identity = Identity;
        var user = "boot" + Guid.NewGuid().ToString("N")[..8];
        await identity.EnsureBootstrapAsync(user, "bootkey" + user, Hash("first" + user), Ct);
        await identity.EnsureBootstrapAsync(user, "bootkey" + user, Hash("second" + user), Ct);

        Assert.NotNull(await identity.FindUserAsync(user, Ct));
        Assert.Null(await identity.FindKeyByHashAsync(Hash("first" + user), Ct));
        var key = await identity.FindKeyByHashAsync(Hash("second" + user), Ct);
        Assert.Equal(("bootkey" + user, KeyTypes.PersonalAccessToken, null), (key?.Key.Id, key?.Key.Type, key?.Key.AppId));
        Assert.Equal(["All"], key?.Key.Scopes);
    }

    [Fact]
    public async Task Two_writers_racing_on_one_user_app_or_collaborator_end_with_one_winner_and_no_error()
    {
        var a = Identity;
        var b = new SqlIdentityStore(Open(), Time);
        for (var round = 0; round < 6; round++)
        {
            var user = "race" + round + _owner;
            Assert.Equal([false, true], (await Task.WhenAll(Task.Run(() => a.CreateUserAsync(User(user), Ct), Ct), Task.Run(() => b.CreateUserAsync(User(user), Ct), Ct))).Order());
            Assert.Equal([false, true], (await Task.WhenAll(Task.Run(() => a.CreateAppAsync(App(user, "app"), Ct), Ct), Task.Run(() => b.CreateAppAsync(App(user, "app"), Ct), Ct))).Order());
            var collaborator = new CollaboratorRecord("rc" + round + _owner, new AppRef(user, "app"), _other, [], [], Now, Now);
            Assert.Equal([false, true], (await Task.WhenAll(
                Task.Run(() => a.AddCollaboratorAsync(collaborator, Ct), Ct),
                Task.Run(() => b.AddCollaboratorAsync(collaborator with { Id = "rd" + round + _owner }, Ct), Ct))).Order());
        }
    }

    [Fact]
    public async Task Two_apps_renamed_to_one_id_at_once_end_with_one_rename_and_no_error()
    {
        var a = Identity;
        var b = new SqlIdentityStore(Open(), Time);
        for (var round = 0; round < 6; round++)
        {
            await a.CreateAppAsync(App(_owner, "x" + round), Ct);
            await a.CreateAppAsync(App(_owner, "y" + round), Ct);
            var target = "z" + round;
            var renamed = await Task.WhenAll(
                Task.Run(() => a.RenameAppAsync(new AppRef(_owner, "x" + round), target, Now, Ct), Ct),
                Task.Run(() => b.RenameAppAsync(new AppRef(_owner, "y" + round), target, Now, Ct), Ct));
            Assert.Equal([false, true], renamed.Order());
        }
    }

    [Fact]
    public async Task A_rename_onto_an_id_another_transaction_is_taking_waits_and_answers_taken()
    {
        var identity = Identity;
        await identity.CreateAppAsync(App(_owner, "hx"), Ct);
        await identity.CreateAppAsync(App(_owner, "hy"), Ct);
        // Another node is renaming hx to hz and has not committed yet.
        await using var other = await Open().WriteAsync(Ct);
        await other.ExecuteAsync("UPDATE identity_apps SET id = 'hz' WHERE user_id = @u AND id = 'hx';", ("@u", _owner));
        var rename = Task.Run(() => new SqlIdentityStore(Open(), Time).RenameAppAsync(new AppRef(_owner, "hy"), "hz", Now, Ct), Ct);
        await Task.Delay(300, Ct);
        await other.CommitAsync();

        Assert.False(await rename);
        Assert.NotNull(await identity.FindAppAsync(new AppRef(_owner, "hy"), Ct));
    }

    [Fact]
    public async Task A_key_deleted_through_another_node_stops_within_a_second_despite_the_read_cache()
    {
        var nodeA = Identity;
        var nodeB = new SqlIdentityStore(Open(), Time);
        var hash = Hash("cached" + _owner);
        await nodeB.CreateKeyAsync(Key("cached" + _owner, _owner), hash, Ct);
        var watch = Stopwatch.StartNew();
        while (await nodeA.FindKeyByHashAsync(hash, Ct) is null)
        {
            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(1), "a key created on node B was not found on node A within a second");
            await Task.Delay(20, Ct);
        }

        // Cached on A now; B deletes it.
        Assert.NotNull(await nodeA.FindKeyByHashAsync(hash, Ct));
        Assert.True(await nodeB.DeleteKeyAsync(_owner, "cached" + _owner, Ct));
        watch.Restart();
        while (await nodeA.FindKeyByHashAsync(hash, Ct) is not null)
        {
            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(1), "a key deleted on node B still worked on node A after a second");
            await Task.Delay(20, Ct);
        }
    }
}

public sealed class SqliteIdentityStoreTests(StoreFixture<SqliteBackend> fixture)
    : IdentityStoreTests(fixture.Backend, fixture.Store), IClassFixture<StoreFixture<SqliteBackend>>;

public sealed class PostgresIdentityStoreTests(StoreFixture<PostgresBackend> fixture)
    : IdentityStoreTests(fixture.Backend, fixture.Store), IClassFixture<StoreFixture<PostgresBackend>>;
