import { CURRENCIES, LISTING_SORTS, VARIETIES } from '../listings/listings.ts';
import { html, type SafeHtml } from './html.ts';
import type { PageSpec } from './layout.ts';

const SORT_LABELS: Record<(typeof LISTING_SORTS)[number], string> = {
  newest: 'Newest first',
  price_asc: 'Price: low to high',
  price_desc: 'Price: high to low',
  harvest_newest: 'Most recent harvest',
  title: 'Title A–Z',
};

const capitalise = (s: string): string => s.charAt(0).toUpperCase() + s.slice(1);
const message = (id: string): SafeHtml => html`<p id="${id}-error" class="error" role="alert" hidden></p>`;

export function browsePage(): PageSpec {
  return {
    title: 'Browse cacao',
    script: 'browse.js',
    main: html`<h1>Cacao listings</h1>
      <form id="search" role="search" aria-label="Search listings" action="/" method="get" class="filters">
        <label>Search <input type="search" name="q" maxlength="100" placeholder="e.g. Piura criollo" /></label>
        <label>Origin <input type="text" name="origin" maxlength="80" placeholder="Country or region" /></label>
        <label
          >Variety
          <select name="variety">
            <option value="">Any variety</option>
            ${VARIETIES.map((v) => html`<option value="${v}">${capitalise(v)}</option>`)}
          </select></label
        >
        <label>Min price per kg <input type="number" name="minPrice" min="0" step="0.01" inputmode="decimal" /></label>
        <label>Max price per kg <input type="number" name="maxPrice" min="0" step="0.01" inputmode="decimal" /></label>
        <label class="check"><input type="checkbox" name="inStock" value="true" /> In stock only</label>
        <label
          >Sort by
          <select name="sort">
            ${LISTING_SORTS.map((s) => html`<option value="${s}">${SORT_LABELS[s]}</option>`)}
          </select></label
        >
        <button type="submit">Search</button>
      </form>
      <p id="result-count" role="status" aria-live="polite"></p>
      ${message('browse')}
      <ul id="results" class="cards" aria-label="Search results"></ul>
      <nav id="pagination" aria-label="Pagination" class="pagination"></nav>`,
  };
}

export function listingPage(): PageSpec {
  return {
    title: 'Listing',
    script: 'listing.js',
    main: html`<article id="listing" aria-busy="true"><p>Loading…</p></article>
      ${message('listing')}
      <section id="order" aria-labelledby="order-heading" hidden>
        <h2 id="order-heading">Order this cacao</h2>
        <p id="order-login" hidden><a id="order-login-link" href="/login">Log in</a> to place an order.</p>
        <form id="order-form" hidden>
          <label>Quantity (kg) <input type="number" name="quantityKg" required step="1" /></label>
          <p id="order-total" aria-live="polite"></p>
          <button type="submit">Place order</button>
        </form>
        <p id="order-result" role="status" aria-live="polite"></p>
        ${message('order')}
      </section>`,
  };
}

export function loginPage(): PageSpec {
  return {
    title: 'Log in',
    script: 'login.js',
    main: html`<h1>Log in</h1>
      <form id="login-form" class="stack">
        <label>Email <input type="email" name="email" autocomplete="username" required /></label>
        <label>Password <input type="password" name="password" autocomplete="current-password" required /></label>
        <button type="submit">Log in</button>
      </form>
      ${message('login')}
      <p>New here? <a href="/register">Create an account</a></p>`,
  };
}

export function registerPage(): PageSpec {
  return {
    title: 'Create an account',
    script: 'register.js',
    main: html`<h1>Create an account</h1>
      <form id="register-form" class="stack">
        <label>Name <input type="text" name="name" autocomplete="name" required maxlength="100" /></label>
        <label>Email <input type="email" name="email" autocomplete="email" required /></label>
        <label>Password <input type="password" name="password" autocomplete="new-password" required minlength="8" /></label>
        <fieldset>
          <legend>Account type</legend>
          <label class="check"><input type="radio" name="role" value="buyer" checked /> Buyer</label>
          <label class="check"><input type="radio" name="role" value="supplier" /> Supplier</label>
        </fieldset>
        <button type="submit">Create account</button>
      </form>
      ${message('register')}
      <p>Already registered? <a href="/login">Log in</a></p>`,
  };
}

export function ordersPage(): PageSpec {
  return {
    title: 'My orders',
    script: 'orders.js',
    main: html`<h1>My orders</h1>
      <p id="orders-status" role="status" aria-live="polite"></p>
      ${message('orders')}
      <table id="orders" hidden>
        <caption>
          Your orders, newest first
        </caption>
        <thead>
          <tr>
            <th scope="col">Order</th>
            <th scope="col">Placed</th>
            <th scope="col">Items</th>
            <th scope="col">Total</th>
            <th scope="col">Status</th>
            <th scope="col">Actions</th>
          </tr>
        </thead>
        <tbody></tbody>
      </table>`,
  };
}

export function dashboardPage(): PageSpec {
  return {
    title: 'Supplier dashboard',
    script: 'dashboard.js',
    main: html`<h1>Supplier dashboard</h1>
      <p id="dashboard-status" role="status" aria-live="polite"></p>
      ${message('dashboard')}
      <section id="profile-setup" aria-labelledby="profile-heading" hidden>
        <h2 id="profile-heading">Create your supplier profile</h2>
        <form id="profile-form" class="stack">
          <label>Supplier name <input type="text" name="name" required maxlength="120" /></label>
          <label>Country <input type="text" name="country" required maxlength="56" /></label>
          <label>Region <input type="text" name="region" required maxlength="80" /></label>
          <label>Certifications (comma separated) <input type="text" name="certifications" placeholder="Organic, Fairtrade" /></label>
          <button type="submit">Create profile</button>
        </form>
      </section>
      <section id="my-listings" aria-labelledby="my-listings-heading" hidden>
        <h2 id="my-listings-heading">Your listings</h2>
        <p><a href="/dashboard/listings/new">New listing</a></p>
        <table>
          <caption id="supplier-name"></caption>
          <thead>
            <tr>
              <th scope="col">Title</th>
              <th scope="col">Price per kg</th>
              <th scope="col">Stock</th>
              <th scope="col">Status</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody></tbody>
        </table>
      </section>`,
  };
}

/** The create and edit form of a listing; the script fills it in when editing. */
export function listingFormPage(mode: 'new' | 'edit'): PageSpec {
  return {
    title: mode === 'new' ? 'New listing' : 'Edit listing',
    script: 'listing-form.js',
    main: html`<h1>${mode === 'new' ? 'New listing' : 'Edit listing'}</h1>
      <form id="listing-form" class="stack" data-mode="${mode}">
        <label>Title <input type="text" name="title" required minlength="3" maxlength="120" /></label>
        <label>Origin country <input type="text" name="originCountry" required maxlength="56" /></label>
        <label>Origin region <input type="text" name="originRegion" required maxlength="80" /></label>
        <label
          >Variety
          <select name="variety" required>
            ${VARIETIES.map((v) => html`<option value="${v}">${capitalise(v)}</option>`)}
          </select></label
        >
        <label>Grade <input type="text" name="grade" required maxlength="40" placeholder="e.g. Fine flavour" /></label>
        <label>Price per kg <input type="number" name="price" required min="0.01" step="0.01" inputmode="decimal" /></label>
        <label
          >Currency
          <select name="currency">
            ${CURRENCIES.map((c) => html`<option value="${c}">${c}</option>`)}
          </select></label
        >
        <label>Stock (kg) <input type="number" name="stockKg" required min="0" step="1" /></label>
        <label>Minimum order (kg) <input type="number" name="minOrderKg" required min="1" step="1" /></label>
        <label>Harvest date <input type="date" name="harvestDate" required /></label>
        <label>Description <textarea name="description" rows="5" maxlength="5000"></textarea></label>
        <button type="submit">${mode === 'new' ? 'Create listing' : 'Save changes'}</button>
      </form>
      ${message('listing-form')}`,
  };
}

export function notFoundPage(): PageSpec {
  return {
    title: 'Not found',
    main: html`<h1>Page not found</h1>
      <p><a href="/">Browse cacao listings</a></p>`,
  };
}
