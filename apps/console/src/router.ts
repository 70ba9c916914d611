import { useEffect, useState } from 'preact/hooks';

// The URL holds what a reviewer would share (screen, project, filters, selection): no state library.
const BASE = '/console/';

export interface Route {
  screen: string;
  params: URLSearchParams;
}

function current(): Route {
  const path = location.pathname.startsWith(BASE) ? location.pathname.slice(BASE.length) : '';
  return { screen: path.split('/')[0] || 'home', params: new URLSearchParams(location.search) };
}

export function useRoute(): Route {
  const [route, setRoute] = useState(current);
  useEffect(() => {
    const on = () => setRoute(current());
    addEventListener('popstate', on);
    addEventListener('console:navigate', on);
    return () => {
      removeEventListener('popstate', on);
      removeEventListener('console:navigate', on);
    };
  }, []);
  return route;
}

export function href(screen: string, params: Record<string, string | undefined> = {}): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') q.set(k, v);
  const s = q.toString();
  return `${BASE}${screen === 'home' ? '' : screen}${s ? `?${s}` : ''}`;
}

export function navigate(url: string, replace = false): void {
  if (replace) history.replaceState(null, '', url);
  else history.pushState(null, '', url);
  dispatchEvent(new Event('console:navigate'));
}

/** A same-app link: keeps the page, changes the URL (middle-click and copy still get a real link). */
export function onLinkClick(e: MouseEvent): void {
  const a = (e.currentTarget as HTMLAnchorElement | null) ?? null;
  if (!a || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  e.preventDefault();
  navigate(a.getAttribute('href') ?? BASE);
}
