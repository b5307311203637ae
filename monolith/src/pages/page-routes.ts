import path from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { Router, type Response } from 'express';
import { layout, type PageSpec } from './layout.ts';
import {
  browsePage,
  dashboardPage,
  listingFormPage,
  listingPage,
  loginPage,
  notFoundPage,
  ordersPage,
  registerPage,
} from './page-shells.ts';

/** The browser scripts and stylesheet: plain files, no build step. */
export const PUBLIC_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../public');

function send(res: Response, page: PageSpec, status = 200): void {
  res.status(status).type('html').setHeader('Cache-Control', 'no-store');
  res.send(layout(page).value);
}

/** The end-user pages and their assets. */
export function pageRoutes(): Router {
  const router = Router();
  router.use('/assets', express.static(PUBLIC_DIR, { fallthrough: false, index: false, maxAge: '5m' }));
  router.get('/', (_req, res) => send(res, browsePage()));
  router.get('/listings/:id', (_req, res) => send(res, listingPage()));
  router.get('/login', (_req, res) => send(res, loginPage()));
  router.get('/register', (_req, res) => send(res, registerPage()));
  router.get('/orders', (_req, res) => send(res, ordersPage()));
  router.get('/dashboard', (_req, res) => send(res, dashboardPage()));
  router.get('/dashboard/listings/new', (_req, res) => send(res, listingFormPage('new')));
  router.get('/dashboard/listings/:id/edit', (_req, res) => send(res, listingFormPage('edit')));
  router.use((_req, res) => send(res, notFoundPage(), 404));
  return router;
}
