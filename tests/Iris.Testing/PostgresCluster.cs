using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Npgsql;

namespace Iris.Testing;

/// <summary>
/// A throwaway PostgreSQL cluster, started once per test process on first use and removed when the process exits: Debian's
/// server binaries (<c>/usr/lib/postgresql/&lt;version&gt;/bin</c>, 15 preferred) run as user <c>postgres</c> when the tests
/// run as root, on a free 127.0.0.1 port, trust authentication on loopback only, no fsync. Each test class asks for its own
/// database (<see cref="CreateDatabaseAsync"/>), so classes run in parallel without seeing each other's rows.
/// Missing binaries fail the tests that need PostgreSQL with a message saying how to install them; nothing is skipped.
/// </summary>
public sealed class PostgresCluster
{
    /// <summary>Directories of clusters live under /tmp with this prefix; one left by a killed run is removed by the next.</summary>
    public const string DirectoryPrefix = "iris-pg-";

    private const string PostgresUser = "postgres";

    // Always /tmp, not $TMPDIR: user postgres must be able to reach the directory, and the server's Unix socket path
    // inside it must stay under the 107-byte limit.
    private const string Parent = "/tmp";

    private static readonly Lazy<Task<PostgresCluster>> Instance = new(StartNewAsync, LazyThreadSafetyMode.ExecutionAndPublication);
    private static int _databases;

    private readonly string _bin;
    private readonly string _root;
    private readonly string _data;
    private int _stopped;

    private PostgresCluster(string bin, string root, int port)
    {
        _bin = bin;
        _root = root;
        _data = Path.Combine(root, "data");
        Port = port;
    }

    public int Port { get; }

    /// <summary>The cluster of this test process, started on the first call.</summary>
    public static Task<PostgresCluster> SharedAsync() => Instance.Value;

    /// <summary>A connection string for <paramref name="database"/> as the superuser (no password: trust on loopback).</summary>
    public string ConnectionString(string database) => new NpgsqlConnectionStringBuilder
    {
        Host = "127.0.0.1",
        Port = Port,
        Username = PostgresUser,
        Database = database,
        Timeout = 10,
        // Test classes open many short-lived data sources; keep each pool small so the cluster's connection limit holds.
        MaxPoolSize = 20,
    }.ConnectionString;

    /// <summary>The <c>postgresql://</c> URL of <paramref name="connectionString"/>'s database, as <c>iris serve --database</c> takes it.</summary>
    public string UrlOf(string connectionString) =>
        $"postgresql://{PostgresUser}@127.0.0.1:{Port.ToString(CultureInfo.InvariantCulture)}/{Uri.EscapeDataString(new NpgsqlConnectionStringBuilder(connectionString).Database ?? "postgres")}";

    /// <summary>Creates a new, empty database named after <paramref name="hint"/> and returns its connection string.</summary>
    public async Task<string> CreateDatabaseAsync(string hint, CancellationToken cancellationToken = default)
    {
        var name = "t" + Interlocked.Increment(ref _databases).ToString(CultureInfo.InvariantCulture) + "_"
            + new string([.. hint.ToLowerInvariant().Where(char.IsAsciiLetterOrDigit).Take(40)]);
        await using var connection = new NpgsqlConnection(ConnectionString("postgres"));
        await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand($"CREATE DATABASE \"{name}\" TEMPLATE template0 ENCODING 'UTF8';", connection);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        return ConnectionString(name);
    }

    /// <summary>
    /// A cluster of the caller's own, for tests that stop and restart the server (<see cref="StopServer"/>,
    /// <see cref="StartServer"/>): never do that to <see cref="SharedAsync"/>. Removed when the process exits, or by <see cref="Stop"/>.
    /// </summary>
    public static async Task<PostgresCluster> StartNewAsync()
    {
        var bin = FindBinaries();
        RemoveStaleClusters();
        Exception? last = null;
        // A free port can be taken between finding it and the server binding it; try a few.
        for (var attempt = 0; attempt < 3; attempt++)
        {
            var root = Path.Combine(Parent, DirectoryPrefix + Environment.ProcessId.ToString(CultureInfo.InvariantCulture) + "-" + Guid.NewGuid().ToString("N")[..8]);
            var cluster = new PostgresCluster(bin, root, FreePort());
            try
            {
                await cluster.InitAndStartAsync().ConfigureAwait(false);
                cluster.StartReaper();
                return cluster;
            }
            catch (Exception e)
            {
                last = e;
                cluster.Stop();
            }
        }

        throw new InvalidOperationException("Could not start the throwaway PostgreSQL cluster for the tests: " + last?.Message, last);
    }

    /// <summary>Names a directory holding <c>initdb</c> and <c>pg_ctl</c> to use instead of Debian's (another distribution, a build of your own).</summary>
    public const string BinariesVariable = "IRIS_TEST_PG_BIN";

    private static string FindBinaries()
    {
        if (Environment.GetEnvironmentVariable(BinariesVariable) is { Length: > 0 } chosen)
        {
            return File.Exists(Path.Combine(chosen, "initdb")) && File.Exists(Path.Combine(chosen, "pg_ctl"))
                ? chosen
                : throw new InvalidOperationException($"{BinariesVariable}={chosen} does not hold PostgreSQL's initdb and pg_ctl.");
        }

        const string Root = "/usr/lib/postgresql";
        var candidates = Directory.Exists(Root)
            ? Directory.GetDirectories(Root)
                .Where(d => File.Exists(Path.Combine(d, "bin", "initdb")) && File.Exists(Path.Combine(d, "bin", "pg_ctl")))
                .OrderByDescending(d => Path.GetFileName(d) == "15")
                .ThenByDescending(d => int.TryParse(Path.GetFileName(d), NumberStyles.None, CultureInfo.InvariantCulture, out var v) ? v : 0)
                .ToList()
            : [];
        if (candidates.Count == 0)
        {
            throw new InvalidOperationException(
                "PostgreSQL server binaries were not found (/usr/lib/postgresql/<version>/bin/initdb). The storage tests on PostgreSQL need "
                + $"them: run ./run-tests (it installs them), or `apt-get install -y postgresql` (Debian ships 15), or set {BinariesVariable}.");
        }

        return Path.Combine(candidates[0], "bin");
    }

    private async Task InitAndStartAsync()
    {
        Directory.CreateDirectory(_root);
        File.WriteAllText(Path.Combine(_root, "owner"), Environment.MachineName + " " + Environment.ProcessId.ToString(CultureInfo.InvariantCulture));
        if (OperatingSystem.IsWindows())
        {
            throw new PlatformNotSupportedException("The throwaway PostgreSQL cluster runs Debian's server binaries; run the tests on Linux.");
        }

        File.SetUnixFileMode(_root, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        if (Environment.IsPrivilegedProcess)
        {
            // The server refuses to run as root: its directory belongs to postgres, which must also be able to reach /tmp.
            Run("chown", ["-R", PostgresUser + ":", _root], asPostgres: false);
        }

        Run(Path.Combine(_bin, "initdb"), ["-D", _data, "-U", PostgresUser, "-A", "trust", "-E", "UTF8", "--no-locale", "--no-sync", "--no-instructions"], asPostgres: true);
        // Loopback TCP only (the default pg_hba.conf trusts 127.0.0.1/32 and ::1 with -A trust); the socket stays in our own
        // directory. fsync and friends off: a test cluster never survives a crash anyway.
        var settings = string.Join('\n',
            "listen_addresses = '127.0.0.1'",
            "port = " + Port.ToString(CultureInfo.InvariantCulture),
            "unix_socket_directories = '" + _root + "'",
            "fsync = off",
            "synchronous_commit = off",
            "full_page_writes = off",
            "max_connections = 300",
            "shared_buffers = 32MB",
            "max_wal_size = 256MB",
            "logging_collector = off",
            "");
        Run("sh", ["-c", "cat >> \"$0\"", Path.Combine(_data, "postgresql.conf")], asPostgres: true, stdin: settings);
        StartServer();

        await using var connection = new NpgsqlConnection(ConnectionString("postgres"));
        await connection.OpenAsync().ConfigureAwait(false);
    }

    /// <summary>Stops the server (fast shutdown), keeping its data and port: the database is "down" until <see cref="StartServer"/>.</summary>
    public void StopServer() => Run(Path.Combine(_bin, "pg_ctl"), ["-D", _data, "-m", "fast", "-w", "-t", "60", "stop"], asPostgres: true);

    /// <summary>Starts the server again on the same port with the same data.</summary>
    public void StartServer() => Run(Path.Combine(_bin, "pg_ctl"), ["-D", _data, "-l", Path.Combine(_root, "server.log"), "-w", "-t", "60", "start"], asPostgres: true);

    /// <summary>
    /// Removes the cluster once this process is gone, however it ends: test hosts are often killed by their runner right after
    /// the last test, before exit handlers finish, and a killed run must not leave a server behind. A detached shell (its
    /// own session, so it outlives us) waits for our process id to disappear, stops the server and deletes the directory.
    /// </summary>
    private void StartReaper()
    {
        var runAs = Environment.IsPrivilegedProcess ? "runuser -u " + PostgresUser + " -- " : "";
        var script = string.Join('\n',
            "exec </dev/null >/dev/null 2>&1",
            $"while kill -0 {Environment.ProcessId.ToString(CultureInfo.InvariantCulture)}; do sleep 0.5; done",
            $"if [ -f '{_data}/postmaster.pid' ]; then {runAs}'{Path.Combine(_bin, "pg_ctl")}' -D '{_data}' -m immediate -w -t 20 stop; fi",
            $"rm -rf '{_root}'");
        var info = new ProcessStartInfo { FileName = "setsid", UseShellExecute = false, WorkingDirectory = Parent };
        foreach (var a in (string[])["sh", "-c", script])
        {
            info.ArgumentList.Add(a);
        }

        using var reaper = Process.Start(info) ?? throw new InvalidOperationException("could not start the cluster's reaper");
    }

    /// <summary>Stops the server at once (the data is thrown away) and removes its directory.</summary>
    public void Stop()
    {
        if (Interlocked.Exchange(ref _stopped, 1) != 0)
        {
            return;
        }

        StopAndRemove(_bin, _root);
    }

    private static void StopAndRemove(string bin, string root)
    {
        var data = Path.Combine(root, "data");
        if (File.Exists(Path.Combine(data, "postmaster.pid")))
        {
            try
            {
                Run(Path.Combine(bin, "pg_ctl"), ["-D", data, "-m", "immediate", "-w", "-t", "20", "stop"], asPostgres: true);
            }
            catch (InvalidOperationException)
            {
                // Already gone (a stale pid file): removing the directory is all that is left.
            }
        }

        try
        {
            Directory.Delete(root, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
    }

    // Clusters of earlier runs on this machine whose test process is gone (killed before its exit handler ran).
    private static void RemoveStaleClusters()
    {
        foreach (var dir in Directory.GetDirectories(Parent, DirectoryPrefix + "*"))
        {
            try
            {
                var owner = File.ReadAllText(Path.Combine(dir, "owner")).Split(' ');
                if (owner.Length != 2 || owner[0] != Environment.MachineName || !int.TryParse(owner[1], CultureInfo.InvariantCulture, out var pid) || IsAlive(pid))
                {
                    continue;
                }

                StopAndRemove(FindBinaries(), dir);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
            }
        }
    }

    private static bool IsAlive(int pid)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static void Run(string file, IReadOnlyList<string> args, bool asPostgres, string? stdin = null)
    {
        var info = new ProcessStartInfo
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = stdin is not null,
            UseShellExecute = false,
        };
        if (asPostgres && Environment.IsPrivilegedProcess)
        {
            info.FileName = "runuser";
            foreach (var a in (string[])["-u", PostgresUser, "--", file])
            {
                info.ArgumentList.Add(a);
            }
        }
        else
        {
            info.FileName = file;
        }

        foreach (var a in args)
        {
            info.ArgumentList.Add(a);
        }

        // /tmp is the working directory: runuser keeps the caller's, which postgres may not be allowed to enter.
        info.WorkingDirectory = Parent;
        using var process = Process.Start(info) ?? throw new InvalidOperationException("could not start " + file);
        if (stdin is not null)
        {
            process.StandardInput.Write(stdin);
            process.StandardInput.Close();
        }

        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromSeconds(90)))
        {
            process.Kill(entireProcessTree: true);
            throw new InvalidOperationException($"{file} did not finish within 90 s");
        }

        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{file} {string.Join(' ', args)} failed ({process.ExitCode}): {stderr.Result}{stdout.Result}");
        }
    }
}
