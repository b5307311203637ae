import { api, clearError, loginHref, showError } from './api.js';
import { capitalise, el, kg, money } from './format.js';

const status = document.getElementById('dashboard-status');
const error = document.getElementById('dashboard-error');
const setup = document.getElementById('profile-setup');
const profileForm = document.getElementById('profile-form');
const mine = document.getElementById('my-listings');
const tbody = mine.querySelector('tbody');

function row(listing, reload) {
  const actions = el('td');
  if (listing.status === 'active') {
    actions.append(el('a', { href: `/dashboard/listings/${listing.id}/edit`, 'aria-label': `Edit ${listing.title}`, text: 'Edit' }));
    const archive = el('button', { type: 'button', 'aria-label': `Archive ${listing.title}`, text: 'Archive' });
    archive.addEventListener('click', async () => {
      clearError(error);
      archive.disabled = true;
      try {
        await api(`/api/listings/${listing.id}/archive`, { method: 'POST' });
        await reload(`Archived “${listing.title}”.`);
      } catch (err) {
        archive.disabled = false;
        showError(error, err);
      }
    });
    actions.append(' ', archive);
  }
  return el(
    'tr',
    { 'data-listing-id': listing.id },
    el('th', { scope: 'row' }, el('a', { href: `/listings/${listing.id}`, text: listing.title })),
    el('td', { text: money(listing.pricePerKgCents, listing.currency) }),
    el('td', { text: kg(listing.stockKg) }),
    el('td', { text: capitalise(listing.status) }),
    actions,
  );
}

async function showListings(supplier, message) {
  const page = await api(`/api/listings?supplierId=${supplier.id}&status=all&pageSize=100`);
  document.getElementById('supplier-name').textContent = `Listings of ${supplier.name}`;
  tbody.replaceChildren(...page.items.map((l) => row(l, (m) => showListings(supplier, m))));
  mine.hidden = false;
  setup.hidden = true;
  status.textContent = message ?? (page.items.length ? '' : 'You have no listings yet.');
}

async function load() {
  try {
    const { supplier } = await api('/api/suppliers/mine');
    const saved = new URLSearchParams(location.search).get('saved');
    await showListings(supplier, saved ? 'Listing saved.' : undefined);
  } catch (err) {
    if (err.status === 401) {
      status.replaceChildren(
        el('a', { href: loginHref(), text: 'Log in' }),
        document.createTextNode(' as a supplier to manage your listings.'),
      );
    } else if (err.code === 'supplier_not_found') {
      setup.hidden = false;
    } else {
      showError(error, err);
    }
  }
}

profileForm.addEventListener('submit', async (event) => {
  event.preventDefault();
  clearError(error);
  const data = new FormData(profileForm);
  const certifications = String(data.get('certifications') ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  try {
    const { supplier } = await api('/api/suppliers', {
      method: 'POST',
      body: { name: data.get('name'), country: data.get('country'), region: data.get('region'), certifications },
    });
    await showListings(supplier, 'Supplier profile created.');
  } catch (err) {
    showError(error, err);
  }
});

await load();
