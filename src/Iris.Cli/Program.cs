using Iris.Cli;

return await Commands.RunAsync(args).ConfigureAwait(false);
