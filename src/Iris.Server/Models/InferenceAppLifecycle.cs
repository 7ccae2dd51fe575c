using Iris.Core.Apps;
using Iris.Storage;

namespace Iris.Server.Models;

/// <summary>DeleteApp and PatchAppsIds for the base-workflow index: an app's stored embeddings and predicted concepts go or move with it.</summary>
internal sealed class InferenceAppLifecycle(SqliteDatabase database) : IAppLifecycleListener
{
    private static readonly string[] Tables = ["inference_input_embeddings", "inference_input_concepts"];

    public async Task PurgeAppAsync(AppRef app, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var tx = connection.BeginTransaction();
        foreach (var table in Tables)
        {
            await using var command = connection.CreateCommand();
            command.Transaction = tx;
            command.CommandText = $"DELETE FROM {table} WHERE user_id = $u AND app_id = $a;";
            command.Parameters.AddWithValue("$u", app.UserId);
            command.Parameters.AddWithValue("$a", app.AppId);
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
    }

    public async Task RenameAppAsync(AppRef from, AppRef to, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var tx = connection.BeginTransaction();
        foreach (var table in Tables)
        {
            await using var command = connection.CreateCommand();
            command.Transaction = tx;
            command.CommandText = $"UPDATE {table} SET user_id = $tu, app_id = $ta WHERE user_id = $u AND app_id = $a;";
            command.Parameters.AddWithValue("$tu", to.UserId);
            command.Parameters.AddWithValue("$ta", to.AppId);
            command.Parameters.AddWithValue("$u", from.UserId);
            command.Parameters.AddWithValue("$a", from.AppId);
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
    }
}
