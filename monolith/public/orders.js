import { api, clearError, loginHref, showError } from './api.js';
import { capitalise, date, el, kg, money } from './format.js';

const table = document.getElementById('orders');
const tbody = table.querySelector('tbody');
const status = document.getElementById('orders-status');
const error = document.getElementById('orders-error');
const CANCELLABLE = ['placed', 'confirmed'];

function row(order) {
  const items = el('ul', { class: 'plain' }, ...order.items.map((i) => el('li', { text: `${i.title} — ${kg(i.quantityKg)}` })));
  const actions = el('td');
  if (CANCELLABLE.includes(order.status)) {
    const cancel = el('button', { type: 'button', 'aria-label': `Cancel order #${order.id}`, text: 'Cancel' });
    cancel.addEventListener('click', async () => {
      clearError(error);
      cancel.disabled = true;
      try {
        await api(`/api/orders/${order.id}/cancel`, { method: 'POST' });
        await load(`Order #${order.id} cancelled.`);
      } catch (err) {
        cancel.disabled = false;
        showError(error, err);
      }
    });
    actions.append(cancel);
  }
  return el(
    'tr',
    { 'data-order-id': order.id },
    el('th', { scope: 'row', text: `#${order.id}` }),
    el('td', { text: date(order.createdAt) }),
    el('td', {}, items),
    el('td', { text: money(order.totalCents, order.currency) }),
    el('td', { text: capitalise(order.status) }),
    actions,
  );
}

async function load(message) {
  try {
    const page = await api('/api/orders?pageSize=100');
    tbody.replaceChildren(...page.items.map(row));
    table.hidden = page.items.length === 0;
    status.textContent = message ?? (page.items.length ? '' : 'You have no orders yet.');
  } catch (err) {
    if (err.status === 401) {
      status.replaceChildren(el('a', { href: loginHref(), text: 'Log in' }), document.createTextNode(' to see your orders.'));
      return;
    }
    showError(error, err);
  }
}

await load();
