using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;

namespace Iris.Inference.Training;

/// <summary>
/// The examples of one training: <see cref="Count"/> row-major vectors of <see cref="Dimensions"/> floats, each with
/// target values per class (one-hot or fractional for softmax, 0/1 per concept for one-vs-rest) and a weight.
/// </summary>
public sealed record TrainingSet(float[] Features, int Count, int Dimensions, float[] Targets, int Classes, float[] Weights);

/// <summary>Settings of <see cref="LogisticTrainer"/>.</summary>
public sealed record TrainerOptions
{
    /// <summary>L2 penalty on the weights (not the biases), on standardized features; the loss is the weighted mean.</summary>
    public float L2 { get; init; } = 1e-2f;

    /// <summary>L-BFGS iterations at most; training stops earlier when the gradient is this small relative to the start.</summary>
    public int MaxIterations { get; init; } = 200;

    public double Tolerance { get; init; } = 1e-3;

    /// <summary>Pairs of L-BFGS memory.</summary>
    public int Memory { get; init; } = 10;
}

/// <summary>
/// L2-regularized logistic regression — multinomial (softmax) or one binary problem per class (one-vs-rest, solved
/// jointly since the problems are independent) — by L-BFGS with a backtracking Armijo line search, on standardized
/// features. Iris' own small optimiser rather than ML.NET: the problem is one convex function of ≤ 100 × 1281
/// parameters whose loss and gradient are two passes of SIMD dot products (<see cref="TensorPrimitives"/>) over the
/// stored embeddings, parallel over examples; ML.NET would copy every embedding into an IDataView, bring native
/// dependencies, and run one binary trainer per concept. The tests check the gradient against finite differences and
/// the optimum on separable and noisy data.
/// </summary>
public static class LogisticTrainer
{
    /// <summary>Trains and returns the weights (Classes × Dimensions) and biases with the standardization folded in.</summary>
    public static (float[] Weights, float[] Bias, int Iterations) Train(TrainingSet set, bool softmax, TrainerOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new TrainerOptions();
        var (n, d, classes) = (set.Count, set.Dimensions, set.Classes);
        var (mean, scale) = Standardization(set);
        var x = new float[set.Features.Length];
        for (var i = 0; i < n; i++)
        {
            var row = x.AsSpan(i * d, d);
            TensorPrimitives.Subtract(set.Features.AsSpan(i * d, d), mean, row);
            TensorPrimitives.Multiply(row, scale, row);
        }

        var problem = new Problem(x, n, d, set.Targets, classes, set.Weights, softmax, options.L2);
        var theta = new double[classes * (d + 1)];
        var iterations = Minimize(problem, theta, options, cancellationToken);

        // Fold the standardization: w·((v − μ) ∘ s) + b = (w ∘ s)·v + (b − (w ∘ s)·μ).
        var weights = new float[classes * d];
        var bias = new float[classes];
        for (var c = 0; c < classes; c++)
        {
            var row = weights.AsSpan(c * d, d);
            for (var j = 0; j < d; j++)
            {
                row[j] = (float)theta[c * (d + 1) + j] * scale[j];
            }

            bias[c] = (float)theta[c * (d + 1) + d] - TensorPrimitives.Dot(row, mean);
        }

        return (weights, bias, iterations);
    }

    private static (float[] Mean, float[] Scale) Standardization(TrainingSet set)
    {
        var (n, d) = (set.Count, set.Dimensions);
        var mean = new double[d];
        var square = new double[d];
        for (var i = 0; i < n; i++)
        {
            var row = set.Features.AsSpan(i * d, d);
            for (var j = 0; j < d; j++)
            {
                mean[j] += row[j];
                square[j] += (double)row[j] * row[j];
            }
        }

        var m = new float[d];
        var s = new float[d];
        for (var j = 0; j < d; j++)
        {
            var mu = mean[j] / Math.Max(1, n);
            var variance = Math.Max(0, square[j] / Math.Max(1, n) - mu * mu);
            m[j] = (float)mu;
            // A dimension that never varies keeps unit scale (its weight is then only held down by the penalty).
            s[j] = variance > 1e-12 ? (float)(1 / Math.Sqrt(variance)) : 1f;
        }

        return (m, s);
    }

    private static int Minimize(Problem problem, double[] theta, TrainerOptions options, CancellationToken cancellationToken)
    {
        var size = theta.Length;
        var gradient = new double[size];
        var f = problem.Evaluate(theta, gradient);
        var startNorm = Math.Max(Norm(gradient), 1e-12);
        var s = new List<double[]>();
        var y = new List<double[]>();
        var rho = new List<double>();
        var direction = new double[size];
        var next = new double[size];
        var nextGradient = new double[size];
        var alpha = new double[options.Memory];
        var iteration = 0;
        for (; iteration < options.MaxIterations; iteration++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (Norm(gradient) <= options.Tolerance * startNorm)
            {
                break;
            }

            // Two-loop recursion: direction = −H·g.
            Array.Copy(gradient, direction, size);
            for (var k = s.Count - 1; k >= 0; k--)
            {
                alpha[k] = rho[k] * Dot(s[k], direction);
                Axpy(-alpha[k], y[k], direction);
            }

            if (s.Count > 0)
            {
                var last = s.Count - 1;
                Scale(direction, Dot(s[last], y[last]) / Dot(y[last], y[last]));
            }

            for (var k = 0; k < s.Count; k++)
            {
                var beta = rho[k] * Dot(y[k], direction);
                Axpy(alpha[k] - beta, s[k], direction);
            }

            Scale(direction, -1);
            var slope = Dot(gradient, direction);
            if (slope >= 0)
            {
                // Not a descent direction (curvature lost to round-off): restart from steepest descent.
                s.Clear();
                y.Clear();
                rho.Clear();
                Array.Copy(gradient, direction, size);
                Scale(direction, -1);
                slope = Dot(gradient, direction);
            }

            var step = s.Count == 0 ? Math.Min(1, 1 / Math.Max(Norm(gradient), 1e-12)) : 1.0;
            double nextF;
            var tries = 0;
            while (true)
            {
                for (var i = 0; i < size; i++)
                {
                    next[i] = theta[i] + step * direction[i];
                }

                nextF = problem.Evaluate(next, nextGradient);
                if (nextF <= f + 1e-4 * step * slope || ++tries >= 30)
                {
                    break;
                }

                step *= 0.5;
            }

            if (tries >= 30 && nextF > f)
            {
                break;
            }

            var sk = new double[size];
            var yk = new double[size];
            for (var i = 0; i < size; i++)
            {
                sk[i] = next[i] - theta[i];
                yk[i] = nextGradient[i] - gradient[i];
            }

            var sy = Dot(sk, yk);
            if (sy > 1e-12)
            {
                if (s.Count == options.Memory)
                {
                    s.RemoveAt(0);
                    y.RemoveAt(0);
                    rho.RemoveAt(0);
                }

                s.Add(sk);
                y.Add(yk);
                rho.Add(1 / sy);
            }

            Array.Copy(next, theta, size);
            Array.Copy(nextGradient, gradient, size);
            var improvement = f - nextF;
            f = nextF;
            if (improvement <= 1e-10 * Math.Max(1, Math.Abs(f)))
            {
                iteration++;
                break;
            }
        }

        return iteration;
    }

    private static double Dot(double[] a, double[] b) => TensorPrimitives.Dot<double>(a, b);

    private static double Norm(double[] a) => Math.Sqrt(Dot(a, a));

    private static void Axpy(double a, double[] x, double[] y)
    {
        for (var i = 0; i < y.Length; i++)
        {
            y[i] += a * x[i];
        }
    }

    private static void Scale(double[] x, double a) => TensorPrimitives.Multiply<double>(x, a, x);

    /// <summary>The regularized weighted mean loss and its gradient, over θ = per class: d weights then the bias.</summary>
    internal sealed class Problem(float[] x, int n, int d, float[] targets, int classes, float[] weights, bool softmax, float l2)
    {
        private const int Block = 4;

        private readonly double _weightSum = Math.Max(weights.Sum(w => (double)w), 1e-12);

        public double Evaluate(double[] theta, double[] gradient)
        {
            var w = new float[classes * d];
            var b = new float[classes];
            for (var c = 0; c < classes; c++)
            {
                for (var j = 0; j < d; j++)
                {
                    w[c * d + j] = (float)theta[c * (d + 1) + j];
                }

                b[c] = (float)theta[c * (d + 1) + d];
            }

            // Examples in chunks, one per core: each chunk sums its loss and gradient in its own buffers.
            var chunks = Math.Clamp(Environment.ProcessorCount, 1, Math.Max(1, n / 64));
            var losses = new double[chunks];
            var partial = new float[chunks][];
            Parallel.For(0, chunks, k =>
            {
                var g = partial[k] = new float[classes * (d + 1)];
                var z = new float[Block * classes];
                var r = new float[Block * classes];
                double loss = 0;
                var first = (int)((long)n * k / chunks);
                var last = (int)((long)n * (k + 1) / chunks);

                // Four examples at a time: each weight row and each gradient row is read once per four examples, which
                // is what bounds a pass (10 classes × 1,280 floats of gradient live in L2, not L1).
                for (var i0 = first; i0 < last; i0 += Block)
                {
                    var m = Math.Min(Block, last - i0);
                    var x0 = x.AsSpan(i0 * d, d);
                    var x1 = x.AsSpan((i0 + Math.Min(1, m - 1)) * d, d);
                    var x2 = x.AsSpan((i0 + Math.Min(2, m - 1)) * d, d);
                    var x3 = x.AsSpan((i0 + Math.Min(3, m - 1)) * d, d);
                    for (var c = 0; c < classes; c++)
                    {
                        Dot4(w.AsSpan(c * d, d), x0, x1, x2, x3, out var d0, out var d1, out var d2, out var d3);
                        z[c] = d0 + b[c];
                        z[classes + c] = d1 + b[c];
                        z[2 * classes + c] = d2 + b[c];
                        z[3 * classes + c] = d3 + b[c];
                    }

                    Array.Clear(r);
                    for (var e = 0; e < m; e++)
                    {
                        loss += Residuals(z.AsSpan(e * classes, classes), targets.AsSpan((i0 + e) * classes, classes), weights[i0 + e], r.AsSpan(e * classes, classes));
                    }

                    for (var c = 0; c < classes; c++)
                    {
                        var (r0, r1, r2, r3) = (r[c], r[classes + c], r[2 * classes + c], r[3 * classes + c]);
                        Axpy4(g.AsSpan(c * (d + 1), d), r0, x0, r1, x1, r2, x2, r3, x3);
                        g[c * (d + 1) + d] += r0 + r1 + r2 + r3;
                    }
                }

                losses[k] = loss;
            });

            double total = 0;
            Array.Clear(gradient);
            for (var k = 0; k < chunks; k++)
            {
                total += losses[k];
                var g = partial[k];
                for (var i = 0; i < gradient.Length; i++)
                {
                    gradient[i] += g[i];
                }
            }

            total /= _weightSum;
            for (var i = 0; i < gradient.Length; i++)
            {
                gradient[i] /= _weightSum;
            }

            for (var c = 0; c < classes; c++)
            {
                for (var j = 0; j < d; j++)
                {
                    var t = theta[c * (d + 1) + j];
                    total += 0.5 * l2 * t * t;
                    gradient[c * (d + 1) + j] += l2 * t;
                }
            }

            return total;
        }

        /// <summary>The weighted loss of one example; writes its residuals (∂loss/∂z, weighted) into <paramref name="residual"/>.</summary>
        private double Residuals(ReadOnlySpan<float> z, ReadOnlySpan<float> target, float weight, Span<float> residual)
        {
            double loss = 0;
            if (softmax)
            {
                var max = TensorPrimitives.Max(z);
                double sum = 0;
                for (var c = 0; c < z.Length; c++)
                {
                    sum += Math.Exp(z[c] - max);
                }

                var logSum = max + Math.Log(sum);
                for (var c = 0; c < z.Length; c++)
                {
                    loss -= weight * target[c] * (z[c] - logSum);
                    residual[c] = (float)(weight * (Math.Exp(z[c] - logSum) - target[c]));
                }

                return loss;
            }

            for (var c = 0; c < z.Length; c++)
            {
                // log(1 + e^z) − t·z, computed without overflow.
                double zc = z[c];
                loss += weight * ((zc > 0 ? zc + Math.Log(1 + Math.Exp(-zc)) : Math.Log(1 + Math.Exp(zc))) - target[c] * zc);
                residual[c] = (float)(weight * (1 / (1 + Math.Exp(-zc)) - target[c]));
            }

            return loss;
        }

        /// <summary>Four dot products of one weight row with four examples, the row read once.</summary>
        private static void Dot4(ReadOnlySpan<float> w, ReadOnlySpan<float> x0, ReadOnlySpan<float> x1, ReadOnlySpan<float> x2, ReadOnlySpan<float> x3,
            out float d0, out float d1, out float d2, out float d3)
        {
            var vw = MemoryMarshal.Cast<float, Vector<float>>(w);
            var v0 = MemoryMarshal.Cast<float, Vector<float>>(x0);
            var v1 = MemoryMarshal.Cast<float, Vector<float>>(x1);
            var v2 = MemoryMarshal.Cast<float, Vector<float>>(x2);
            var v3 = MemoryMarshal.Cast<float, Vector<float>>(x3);
            Vector<float> a0 = default, a1 = default, a2 = default, a3 = default;
            for (var j = 0; j < vw.Length; j++)
            {
                var wj = vw[j];
                a0 += wj * v0[j];
                a1 += wj * v1[j];
                a2 += wj * v2[j];
                a3 += wj * v3[j];
            }

            (d0, d1, d2, d3) = (Vector.Sum(a0), Vector.Sum(a1), Vector.Sum(a2), Vector.Sum(a3));
            for (var j = vw.Length * Vector<float>.Count; j < w.Length; j++)
            {
                d0 += w[j] * x0[j];
                d1 += w[j] * x1[j];
                d2 += w[j] * x2[j];
                d3 += w[j] * x3[j];
            }
        }

        /// <summary>g += r0·x0 + r1·x1 + r2·x2 + r3·x3, the gradient row read and written once.</summary>
        private static void Axpy4(Span<float> g, float r0, ReadOnlySpan<float> x0, float r1, ReadOnlySpan<float> x1, float r2, ReadOnlySpan<float> x2, float r3, ReadOnlySpan<float> x3)
        {
            var vg = MemoryMarshal.Cast<float, Vector<float>>(g);
            var v0 = MemoryMarshal.Cast<float, Vector<float>>(x0);
            var v1 = MemoryMarshal.Cast<float, Vector<float>>(x1);
            var v2 = MemoryMarshal.Cast<float, Vector<float>>(x2);
            var v3 = MemoryMarshal.Cast<float, Vector<float>>(x3);
            for (var j = 0; j < vg.Length; j++)
            {
                vg[j] += (v0[j] * r0) + (v1[j] * r1) + (v2[j] * r2) + (v3[j] * r3);
            }

            for (var j = vg.Length * Vector<float>.Count; j < g.Length; j++)
            {
                g[j] += (x0[j] * r0) + (x1[j] * r1) + (x2[j] * r2) + (x3[j] * r3);
            }
        }
    }
}
