import { api, currentUser, loginHref } from './api.js';
import { el } from './format.js';

// The header's account area: who is logged in, and the way in or out.
const account = document.getElementById('account');
const user = await currentUser().catch(() => null);
if (user) {
  const logout = el('button', { type: 'button', text: 'Log out' });
  logout.addEventListener('click', async () => {
    await api('/api/auth/logout', { method: 'POST' }).catch(() => {});
    location.assign('/');
  });
  account.replaceChildren(el('span', { text: `Signed in as ${user.name}` }), logout);
} else {
  account.replaceChildren(el('a', { href: loginHref(), text: 'Log in' }), el('a', { href: '/register', text: 'Register' }));
}
