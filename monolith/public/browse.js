import { api, clearError, showError } from './api.js';
import { capitalise, el, kg, money } from './format.js';

const form = document.getElementById('search');
const results = document.getElementById('results');
const count = document.getElementById('result-count');
const error = document.getElementById('browse-error');
const pagination = document.getElementById('pagination');
const params = new URLSearchParams(location.search);

// The form keeps what was searched; prices are typed per kg in currency units, the API takes cents.
for (const [name, value] of params) {
  const field = form.elements.namedItem(name);
  if (!field) continue;
  if (field.type === 'checkbox') field.checked = value === 'true';
  else field.value = value;
}

function apiQuery() {
  const q = new URLSearchParams();
  for (const name of ['q', 'origin', 'variety', 'sort', 'page']) {
    const v = params.get(name);
    if (v) q.set(name, v);
  }
  for (const name of ['minPrice', 'maxPrice']) {
    const v = params.get(name);
    if (v && Number.isFinite(Number(v))) q.set(name, String(Math.round(Number(v) * 100)));
  }
  if (params.get('inStock') === 'true') q.set('inStock', 'true');
  q.set('pageSize', '24');
  return q;
}

function card(listing) {
  return el(
    'li',
    {},
    el(
      'article',
      { class: 'card', 'aria-labelledby': `listing-${listing.id}` },
      el('h2', { id: `listing-${listing.id}` }, el('a', { href: `/listings/${listing.id}`, text: listing.title })),
      el('p', {
        class: 'meta',
        text: `${listing.originRegion}, ${listing.originCountry} · ${capitalise(listing.variety)} · ${listing.grade}`,
      }),
      el('p', { class: 'price', text: `${money(listing.pricePerKgCents, listing.currency)} per kg` }),
      el('p', { class: 'stock', text: listing.stockKg >= listing.minOrderKg ? `${kg(listing.stockKg)} available` : 'Out of stock' }),
      el('p', { class: 'supplier', text: listing.supplier.name }),
    ),
  );
}

function pageLink(page, label) {
  const q = new URLSearchParams(params);
  q.set('page', String(page));
  return el('a', { href: `/?${q}`, text: label });
}

try {
  const page = await api(`/api/listings?${apiQuery()}`);
  results.replaceChildren(...page.items.map(card));
  count.textContent = page.total === 1 ? '1 listing found' : `${page.total} listings found`;
  const links = [];
  if (page.page > 1) links.push(pageLink(page.page - 1, 'Previous page'));
  if (page.totalPages > 1) links.push(el('span', { text: `Page ${page.page} of ${page.totalPages}` }));
  if (page.page < page.totalPages) links.push(pageLink(page.page + 1, 'Next page'));
  pagination.replaceChildren(...links);
} catch (err) {
  count.textContent = '';
  showError(error, err);
}
form.addEventListener('input', () => clearError(error));
