import { api, clearError, currentUser, loginHref, showError } from './api.js';
import { capitalise, date, el, kg, money } from './format.js';

const id = location.pathname.split('/')[2];
const article = document.getElementById('listing');
const listingError = document.getElementById('listing-error');
const section = document.getElementById('order');
const form = document.getElementById('order-form');
const quantity = form.elements.namedItem('quantityKg');
const total = document.getElementById('order-total');
const result = document.getElementById('order-result');
const orderError = document.getElementById('order-error');

function detail(term, value) {
  return [el('dt', { text: term }), el('dd', { text: value })];
}

function render(listing) {
  document.title = `${listing.title} · Cacao Market`;
  article.replaceChildren(
    el('h1', { text: listing.title }),
    el('p', { class: 'supplier' }, document.createTextNode('Supplied by '), el('strong', { text: listing.supplier.name })),
    el(
      'dl',
      { class: 'details' },
      ...detail('Origin', `${listing.originRegion}, ${listing.originCountry}`),
      ...detail('Variety', capitalise(listing.variety)),
      ...detail('Grade', listing.grade),
      ...detail('Price', `${money(listing.pricePerKgCents, listing.currency)} per kg`),
      ...detail('Available', kg(listing.stockKg)),
      ...detail('Minimum order', kg(listing.minOrderKg)),
      ...detail('Harvested', date(`${listing.harvestDate}T00:00:00Z`)),
      ...detail('Status', capitalise(listing.status)),
    ),
    el('p', { class: 'description', text: listing.description }),
  );
  article.setAttribute('aria-busy', 'false');
}

// A fresh key per order attempt: a double click or a retry after a network error places one order.
let idempotencyKey = crypto.randomUUID();

try {
  const { listing } = await api(`/api/listings/${encodeURIComponent(id)}`);
  render(listing);
  if (listing.status === 'active') {
    section.hidden = false;
    const user = await currentUser();
    if (!user) {
      document.getElementById('order-login').hidden = false;
      document.getElementById('order-login-link').href = loginHref();
    } else {
      form.hidden = false;
      quantity.min = String(listing.minOrderKg);
      quantity.max = String(listing.stockKg);
      quantity.value = String(listing.minOrderKg);
      const showTotal = () => {
        const n = Number(quantity.value);
        total.textContent = Number.isInteger(n) && n > 0 ? `Total: ${money(n * listing.pricePerKgCents, listing.currency)}` : '';
      };
      showTotal();
      quantity.addEventListener('input', () => {
        clearError(orderError);
        showTotal();
      });
      form.addEventListener('submit', async (event) => {
        event.preventDefault();
        clearError(orderError);
        result.replaceChildren();
        const button = form.querySelector('button');
        button.disabled = true;
        try {
          const { order } = await api('/api/orders', {
            method: 'POST',
            headers: { 'idempotency-key': idempotencyKey },
            body: { items: [{ listingId: listing.id, quantityKg: Number(quantity.value) }] },
          });
          idempotencyKey = crypto.randomUUID();
          result.replaceChildren(
            document.createTextNode(`Order #${order.id} placed. `),
            el('a', { href: '/orders', text: 'View my orders' }),
          );
        } catch (err) {
          showError(orderError, err);
        } finally {
          button.disabled = false;
        }
      });
    }
  }
} catch (err) {
  article.replaceChildren(el('h1', { text: err.status === 404 ? 'Listing not found' : 'This listing could not be loaded' }));
  article.setAttribute('aria-busy', 'false');
  if (err.status !== 404) showError(listingError, err);
}
