using Clarifai.Api;
using Clarifai.Api.Status;
using Google.Protobuf.WellKnownTypes;
using Iris.Core.Errors;

namespace Iris.Server.Inputs;

internal enum PatchAction
{
    Merge,
    Overwrite,
    Remove,
}

/// <summary>
/// Patch semantics of CLARIFAI_FACTS.md 4.3 on the annotation part of data (concepts, regions, metadata, geo).
/// merge: concepts and regions merge by id (matching replaced, new appended); metadata deep-merges (objects merge,
/// lists of objects with ids merge by id, other lists append, <c>{}</c> and <c>[]</c> replace, <c>null</c> does
/// nothing); geo is replaced. overwrite: the patch replaces all four. remove: concepts and regions with matching ids go,
/// metadata keys whose patch value is <c>true</c> go (recursively), geo goes when the patch has one.
/// </summary>
internal static class DataPatch
{
    public static PatchAction ParseAction(string action) => action switch
    {
        "merge" => PatchAction.Merge,
        "overwrite" => PatchAction.Overwrite,
        "remove" => PatchAction.Remove,
        _ => throw new IrisException(StatusCode.ConnInvalidRequest, $"action must be 'merge', 'overwrite' or 'remove'; got '{action}'."),
    };

    public static Data Apply(PatchAction action, Data current, Data patch)
    {
        switch (action)
        {
            case PatchAction.Overwrite:
                return new Data { Concepts = { patch.Concepts }, Regions = { patch.Regions }, Metadata = patch.Metadata, Geo = patch.Geo };
            case PatchAction.Remove:
            {
                var removeConcepts = patch.Concepts.Select(c => c.Id).ToHashSet(StringComparer.Ordinal);
                var removeRegions = patch.Regions.Select(r => r.Id).ToHashSet(StringComparer.Ordinal);
                var result = new Data
                {
                    Concepts = { current.Concepts.Where(c => !removeConcepts.Contains(c.Id)) },
                    Regions = { current.Regions.Where(r => !removeRegions.Contains(r.Id)) },
                    Metadata = current.Metadata is null ? null : RemoveKeys(current.Metadata.Clone(), patch.Metadata),
                    Geo = patch.Geo is null ? current.Geo : null,
                };
                return result;
            }

            default:
            {
                var result = new Data
                {
                    Concepts = { MergeById(current.Concepts, patch.Concepts, c => c.Id) },
                    Regions = { MergeById(current.Regions, patch.Regions, r => r.Id) },
                    Metadata = patch.Metadata is null ? current.Metadata : current.Metadata is null || patch.Metadata.Fields.Count == 0 ? patch.Metadata : MergeStruct(current.Metadata.Clone(), patch.Metadata),
                    Geo = patch.Geo ?? current.Geo,
                };
                return result;
            }
        }
    }

    private static List<T> MergeById<T>(IEnumerable<T> current, IEnumerable<T> patch, Func<T, string> id)
    {
        var list = current.ToList();
        foreach (var item in patch)
        {
            var index = list.FindIndex(x => string.Equals(id(x), id(item), StringComparison.Ordinal));
            if (index >= 0)
            {
                list[index] = item;
            }
            else
            {
                list.Add(item);
            }
        }

        return list;
    }

    private static Struct MergeStruct(Struct target, Struct patch)
    {
        foreach (var (key, value) in patch.Fields)
        {
            if (value.KindCase == Value.KindOneofCase.NullValue)
            {
                continue;
            }

            if (target.Fields.TryGetValue(key, out var existing))
            {
                if (value.KindCase == Value.KindOneofCase.StructValue && existing.KindCase == Value.KindOneofCase.StructValue && value.StructValue.Fields.Count > 0)
                {
                    target.Fields[key] = Value.ForStruct(MergeStruct(existing.StructValue.Clone(), value.StructValue));
                    continue;
                }

                if (value.KindCase == Value.KindOneofCase.ListValue && existing.KindCase == Value.KindOneofCase.ListValue && value.ListValue.Values.Count > 0)
                {
                    target.Fields[key] = Value.ForList([.. MergeList(existing.ListValue, value.ListValue)]);
                    continue;
                }
            }

            target.Fields[key] = value.Clone();
        }

        return target;
    }

    private static List<Value> MergeList(ListValue current, ListValue patch)
    {
        static string? IdOf(Value v) => v.KindCase == Value.KindOneofCase.StructValue && v.StructValue.Fields.TryGetValue("id", out var id) && id.KindCase == Value.KindOneofCase.StringValue ? id.StringValue : null;
        var list = current.Values.Select(v => v.Clone()).ToList();
        if (patch.Values.All(v => IdOf(v) is not null))
        {
            foreach (var item in patch.Values)
            {
                var index = list.FindIndex(x => IdOf(x) == IdOf(item));
                if (index >= 0)
                {
                    list[index] = Value.ForStruct(MergeStruct(list[index].StructValue.Clone(), item.StructValue));
                }
                else
                {
                    list.Add(item.Clone());
                }
            }

            return list;
        }

        list.AddRange(patch.Values.Select(v => v.Clone()));
        return list;
    }

    private static Struct RemoveKeys(Struct target, Struct? patch)
    {
        if (patch is null)
        {
            return target;
        }

        foreach (var (key, value) in patch.Fields)
        {
            if (value.KindCase == Value.KindOneofCase.BoolValue && value.BoolValue)
            {
                target.Fields.Remove(key);
            }
            else if (value.KindCase == Value.KindOneofCase.StructValue && target.Fields.TryGetValue(key, out var existing) && existing.KindCase == Value.KindOneofCase.StructValue)
            {
                target.Fields[key] = Value.ForStruct(RemoveKeys(existing.StructValue.Clone(), value.StructValue));
            }
        }

        return target;
    }
}
