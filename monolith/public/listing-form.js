import { api, clearError, showError } from './api.js';

const form = document.getElementById('listing-form');
const error = document.getElementById('listing-form-error');
const editing = form.dataset.mode === 'edit';
const id = editing ? location.pathname.split('/')[3] : undefined;
const TEXT = ['title', 'originCountry', 'originRegion', 'variety', 'grade', 'currency', 'harvestDate', 'description'];
const WHOLE = ['stockKg', 'minOrderKg'];

form.elements.namedItem('harvestDate').max = new Date().toISOString().slice(0, 10);

if (editing) {
  try {
    const { listing } = await api(`/api/listings/${encodeURIComponent(id)}`);
    for (const name of [...TEXT, ...WHOLE]) form.elements.namedItem(name).value = String(listing[name]);
    form.elements.namedItem('price').value = (listing.pricePerKgCents / 100).toFixed(2);
  } catch (err) {
    showError(error, err);
  }
}

function body() {
  const data = new FormData(form);
  const out = {};
  for (const name of TEXT) out[name] = String(data.get(name) ?? '');
  for (const name of WHOLE) out[name] = Number(data.get(name));
  // Typed in currency units; the API takes integer cents.
  out.pricePerKgCents = Math.round(Number(data.get('price')) * 100);
  return out;
}

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  clearError(error);
  try {
    const { listing } = editing
      ? await api(`/api/listings/${encodeURIComponent(id)}`, { method: 'PATCH', body: body() })
      : await api('/api/listings', { method: 'POST', body: body() });
    location.assign(`/dashboard?saved=${listing.id}`);
  } catch (err) {
    showError(error, err);
  }
});
