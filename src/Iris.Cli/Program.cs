using Iris.Cli;

return await IrisCommandLine.RunAsync(args).ConfigureAwait(false);
