namespace Iris.Core.Apps;

/// <summary>An app, named as Clarifai names it: the owner's user id and the app id (unique per user).</summary>
public sealed record AppRef(string UserId, string AppId)
{
    /// <summary>The public app holding Clarifai's (and Iris') built-in models and workflows.</summary>
    public static readonly AppRef ClarifaiMain = new("clarifai", "main");

    public override string ToString() => UserId + "/" + AppId;
}
