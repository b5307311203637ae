import { html, type SafeHtml } from './html.ts';

export interface PageSpec {
  /** The document title, before the site name. */
  title: string;
  /** The page's script under /assets (besides the shared ones), if any. */
  script?: string;
  main: SafeHtml;
}

/**
 * The frame of every page. Data is never rendered here: each page's script reads it from /api, so
 * a page shows whatever side the route table sends /api to, monolith or service alike.
 */
export function layout(page: PageSpec): SafeHtml {
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>${page.title} · Cacao Market</title>
        <link rel="stylesheet" href="/assets/app.css" />
        <script type="module" src="/assets/account.js"></script>
        ${page.script ? html`<script type="module" src="/assets/${page.script}"></script>` : ''}
      </head>
      <body>
        <header class="site-header">
          <a class="brand" href="/">Cacao Market</a>
          <nav aria-label="Main">
            <ul>
              <li><a href="/">Browse</a></li>
              <li><a href="/orders">My orders</a></li>
              <li><a href="/dashboard">Supplier dashboard</a></li>
            </ul>
          </nav>
          <div id="account" class="account" aria-live="polite"></div>
        </header>
        <main id="main">${page.main}</main>
        <footer class="site-footer"><p>Fine and bulk cacao, direct from origin.</p></footer>
      </body>
    </html> `;
}
