import { useState } from 'preact/hooks';
import { AuthImage } from './components';

export interface Region {
  id?: string;
  value?: number;
  region_info?: {
    bounding_box?: { top_row?: number; left_col?: number; bottom_row?: number; right_col?: number };
    polygon?: { points?: { row?: number; col?: number }[] };
    mask?: { image?: { base64?: string } };
  };
  data?: { concepts?: { id?: string; name?: string; value?: number }[]; text?: { raw?: string } };
}

export interface Layer {
  /** What drew these regions (an annotation, a model). */
  source: string;
  regions: Region[];
}

const COLORS = ['#e6194b', '#3cb44b', '#4363d8', '#f58231', '#911eb4', '#42d4f4', '#f032e6', '#9a6324'];

export function regionLabel(region: Region): string {
  const text = region.data?.text?.raw;
  const concept = region.data?.concepts?.[0];
  const name = concept?.name || concept?.id || '';
  const value = concept?.value ?? region.value;
  return [text ? `“${text}”` : '', name, value !== undefined ? value.toFixed(2) : ''].filter(Boolean).join(' ');
}

/**
 * An image with regions drawn over it in normalised coordinates: boxes, polygons (text lines), masks (grey PNGs used as
 * SVG luminance masks) and labels. Either an authenticated hosted image (`path`) or a local object URL (`src`).
 */
export function AnnotatedImage({ path, src, alt, layers }: { path?: string | null; src?: string; alt: string; layers: Layer[] }) {
  const [size, setSize] = useState<[number, number]>([1, 1]);
  const aspect = size[0] / size[1];
  let n = 0;
  return (
    <figure class="annotated">
      <div class="stage">
        {src ? <img src={src} alt={alt} onLoad={(e) => setSize([(e.target as HTMLImageElement).naturalWidth, (e.target as HTMLImageElement).naturalHeight])} /> : <AuthImage path={path ?? null} alt={alt} onSize={(w, h) => setSize([w, h])} />}
        <svg class="regions" viewBox={`0 0 ${aspect} 1`} preserveAspectRatio="none" role="img" aria-label={`${layers.reduce((s, l) => s + l.regions.length, 0)} regions drawn over ${alt}`}>
          {layers.flatMap((layer, li) =>
            layer.regions.map((region, ri) => {
              const color = COLORS[(li * 3 + ri) % COLORS.length];
              const box = region.region_info?.bounding_box;
              const points = region.region_info?.polygon?.points ?? [];
              const mask = region.region_info?.mask?.image?.base64;
              const id = `m${n++}`;
              const label = regionLabel(region);
              const x = (box?.left_col ?? points[0]?.col ?? 0) * aspect;
              const y = box?.top_row ?? points[0]?.row ?? 0;
              return (
                <g key={`${li}-${ri}`} class="region" data-source={layer.source}>
                  <title>{`${layer.source}: ${label}`}</title>
                  {mask && (
                    <>
                      <mask id={id} maskUnits="userSpaceOnUse" x="0" y="0" width={aspect} height="1">
                        <image href={`data:image/png;base64,${mask}`} x="0" y="0" width={aspect} height="1" preserveAspectRatio="none" />
                      </mask>
                      <rect x="0" y="0" width={aspect} height="1" fill={color} fill-opacity="0.45" mask={`url(#${id})`} />
                    </>
                  )}
                  {box && !mask && points.length === 0 && (
                    <rect x={(box.left_col ?? 0) * aspect} y={box.top_row ?? 0} width={((box.right_col ?? 0) - (box.left_col ?? 0)) * aspect} height={(box.bottom_row ?? 0) - (box.top_row ?? 0)} fill="none" stroke={color} stroke-width="0.006" />
                  )}
                  {points.length > 0 && <polygon points={points.map((p) => `${(p.col ?? 0) * aspect},${p.row ?? 0}`).join(' ')} fill={color} fill-opacity="0.15" stroke={color} stroke-width="0.005" />}
                  {label && (box || points.length > 0) && (
                    <text x={x + 0.004} y={Math.max(y - 0.008, 0.03)} font-size="0.03" fill={color} stroke="white" stroke-width="0.004" paint-order="stroke">
                      {label}
                    </text>
                  )}
                </g>
              );
            }),
          )}
        </svg>
      </div>
      <figcaption>
        {layers.map((layer) => (
          <div key={layer.source}>
            <strong>{layer.source}</strong>: {layer.regions.length} region{layer.regions.length === 1 ? '' : 's'}
            {layer.regions.length > 0 && (
              <ul class="region-list">
                {layer.regions.slice(0, 50).map((r, i) => (
                  <li key={i}>{regionLabel(r) || 'region'}</li>
                ))}
              </ul>
            )}
          </div>
        ))}
      </figcaption>
    </figure>
  );
}
