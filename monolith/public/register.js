import { api, clearError, safeNext, showError } from './api.js';

const form = document.getElementById('register-form');
const error = document.getElementById('register-error');
form.addEventListener('submit', async (event) => {
  event.preventDefault();
  clearError(error);
  const data = new FormData(form);
  const role = data.get('role');
  try {
    await api('/api/auth/register', {
      method: 'POST',
      body: { name: data.get('name'), email: data.get('email'), password: data.get('password'), role },
    });
    location.assign(role === 'supplier' ? '/dashboard' : safeNext(new URLSearchParams(location.search).get('next')));
  } catch (err) {
    showError(error, err);
  }
});
