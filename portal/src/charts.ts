// Chart.js, loaded only by the evaluation view (a separate chunk), with just the parts the curves use.
import { Chart, Legend, LinearScale, LineController, LineElement, PointElement, Title, Tooltip } from 'chart.js';

Chart.register(LineController, LineElement, PointElement, LinearScale, Legend, Title, Tooltip);

export interface Curve {
  label: string;
  x: number[];
  y: number[];
}

const COLORS = ['#4363d8', '#e6194b', '#3cb44b', '#f58231', '#911eb4', '#42d4f4', '#f032e6', '#9a6324'];

/** One chart of curves on [0, 1] × [0, 1]; returns a function that destroys it. */
export function drawCurves(canvas: HTMLCanvasElement, title: string, xLabel: string, yLabel: string, curves: Curve[]): () => void {
  const chart = new Chart(canvas, {
    type: 'line',
    data: {
      datasets: curves.map((c, i) => ({
        label: c.label,
        data: c.x.map((x, j) => ({ x, y: c.y[j] })),
        borderColor: COLORS[i % COLORS.length],
        backgroundColor: COLORS[i % COLORS.length],
        pointRadius: 0,
        borderWidth: 2,
        tension: 0,
      })),
    },
    options: {
      animation: false,
      responsive: true,
      maintainAspectRatio: true,
      aspectRatio: 1.2,
      parsing: false,
      plugins: { title: { display: true, text: title }, legend: { position: 'bottom' } },
      scales: {
        x: { type: 'linear', min: 0, max: 1, title: { display: true, text: xLabel } },
        y: { type: 'linear', min: 0, max: 1, title: { display: true, text: yLabel } },
      },
    },
  });
  return () => chart.destroy();
}
