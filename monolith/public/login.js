import { api, clearError, safeNext, showError } from './api.js';

const form = document.getElementById('login-form');
const error = document.getElementById('login-error');
form.addEventListener('submit', async (event) => {
  event.preventDefault();
  clearError(error);
  const data = new FormData(form);
  try {
    await api('/api/auth/login', { method: 'POST', body: { email: data.get('email'), password: data.get('password') } });
    location.assign(safeNext(new URLSearchParams(location.search).get('next')));
  } catch (err) {
    showError(error, err);
  }
});
