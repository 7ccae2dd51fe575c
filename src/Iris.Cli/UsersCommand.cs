using System.CommandLine;
using System.Globalization;
using Iris.Server.Hosting;
using Iris.Server.Identity;

namespace Iris.Cli;

/// <summary><c>iris users create|list|delete|token</c>: user administration on the data directory (also while the server runs).</summary>
internal static class UsersCommand
{
    public static Command Build()
    {
        var users = new Command("users",
            "Manages users on the data directory (IRIS_DATA_DIR, default ~/.iris), also while the server runs. `token` prints a new " +
            "personal access token once; deleting a user removes their tokens at once and their apps.");

        var userId = new Argument<string>("user-id");
        var firstName = new Option<string?>("--first-name") { HelpName = "NAME" };
        var lastName = new Option<string?>("--last-name") { HelpName = "NAME" };
        var email = new Option<string?>("--email") { HelpName = "ADDRESS" };
        var create = new Command("create", "Creates a user.") { userId, firstName, lastName, email };
        var createStore = StoreOptions.AddTo(create);
        create.SetAction(async (parsed, ct) =>
        {
            var user = parsed.GetRequiredValue(userId);
            await using var admin = await createStore.OpenAsync(parsed, ct).ConfigureAwait(false);
            await admin.CreateUserAsync(user, parsed.GetValue(firstName) ?? string.Empty, parsed.GetValue(lastName) ?? string.Empty,
                parsed.GetValue(email) ?? string.Empty, ct).ConfigureAwait(false);
            Console.WriteLine($"Created user '{user}'. Give them a token with: iris users token {user}");
            return 0;
        });

        var list = new Command("list", "Lists the users (tab-separated: USER, NAME, EMAIL, TOKENS, CREATED).");
        var listStore = StoreOptions.AddTo(list);
        list.SetAction(async (parsed, ct) =>
        {
            await using var admin = await listStore.OpenAsync(parsed, ct).ConfigureAwait(false);
            Console.WriteLine("USER\tNAME\tEMAIL\tTOKENS\tCREATED");
            foreach (var u in await admin.ListUsersAsync(ct).ConfigureAwait(false))
            {
                Console.WriteLine(string.Join('\t', u.Id, u.Name, u.PrimaryEmail, u.Tokens.ToString(CultureInfo.InvariantCulture),
                    u.CreatedAt.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture)));
            }

            return 0;
        });

        var deleteUser = new Argument<string>("user-id");
        var delete = new Command("delete", "Deletes a user: their tokens stop working at once; their apps are deleted.") { deleteUser };
        var deleteStore = StoreOptions.AddTo(delete);
        delete.SetAction(async (parsed, ct) =>
        {
            var user = parsed.GetRequiredValue(deleteUser);
            await using var admin = await deleteStore.OpenAsync(parsed, ct).ConfigureAwait(false);
            await admin.DeleteUserAsync(user, ct).ConfigureAwait(false);
            Console.WriteLine($"Deleted user '{user}': their tokens no longer work; their apps are being deleted.");
            return 0;
        });

        var tokenUser = new Argument<string>("user-id");
        var description = new Option<string?>("--description") { HelpName = "TEXT" };
        var token = new Command("token", "Creates a personal access token for a user and prints it once.") { tokenUser, description };
        var tokenStore = StoreOptions.AddTo(token);
        token.SetAction(async (parsed, ct) =>
        {
            var user = parsed.GetRequiredValue(tokenUser);
            await using var admin = await tokenStore.OpenAsync(parsed, ct).ConfigureAwait(false);
            var (keyId, secret) = await admin.CreateTokenAsync(user, parsed.GetValue(description) ?? "created by iris users token", ct).ConfigureAwait(false);
            await Console.Error.WriteLineAsync($"Personal access token {keyId} for user '{user}' (shown once; store it now):").ConfigureAwait(false);
            Console.WriteLine(secret);
            return 0;
        });

        users.Add(create);
        users.Add(list);
        users.Add(delete);
        users.Add(token);
        return users;
    }

    /// <summary>The <c>--data-dir</c> / <c>--database</c> pair every users command takes.</summary>
    private sealed class StoreOptions
    {
        private readonly Option<string?> _dataDir = new("--data-dir") { Description = "Data directory (IRIS_DATA_DIR, default ~/.iris)", HelpName = "DIR" };
        private readonly Option<string?> _database = new("--database") { Description = "PostgreSQL URL (IRIS_DATABASE_URL)", HelpName = "URL" };

        public static StoreOptions AddTo(Command command)
        {
            var options = new StoreOptions();
            command.Add(options._dataDir);
            command.Add(options._database);
            return options;
        }

        public Task<UserAdministration> OpenAsync(ParseResult parsed, CancellationToken cancellationToken)
        {
            var environment = IrisServerOptions.FromEnvironment();
            return UserAdministration.OpenAsync(parsed.GetValue(_dataDir) ?? environment.DataDir, parsed.GetValue(_database) ?? environment.DatabaseUrl, cancellationToken);
        }
    }
}
