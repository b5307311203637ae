import type { Role } from '@strangler/service-kit';
import type { Currency, ListingFields, ListingStatus, Variety } from '../listings/listings.ts';
import type { Supplier } from '../suppliers/suppliers.ts';
import type { OrderStatus } from '../orders/orders.ts';
import { Random } from './random.ts';
import demoAccounts from '../../demo-accounts.json' with { type: 'json' };

/**
 * The documented demo accounts (README.md), local development only. A JSON file, so that `npm start`
 * can print them without importing the app.
 */
export const DEMO_ACCOUNTS: Readonly<Record<'buyer' | 'supplier' | 'admin', { email: string; password: string; name: string }>> =
  demoAccounts;

/** The password of every other seeded user, so load tests can log in as many users. */
export const SEED_USER_PASSWORD = 'cacao-seed-user';

// Data is dated relative to this day, not to "now", so every run produces the same rows.
const ANCHOR = Date.UTC(2026, 8, 30);
const DAY = 86_400_000;

const ORIGINS: { country: string; regions: string[]; varieties: Variety[] }[] = [
  { country: 'Peru', regions: ['Piura', 'Cusco', 'San Martín', 'Junín'], varieties: ['criollo', 'trinitario', 'forastero'] },
  { country: 'Ecuador', regions: ['Manabí', 'Esmeraldas', 'Los Ríos'], varieties: ['nacional', 'trinitario'] },
  { country: 'Venezuela', regions: ['Sur del Lago', 'Chuao', 'Barlovento'], varieties: ['criollo', 'trinitario'] },
  { country: 'Colombia', regions: ['Santander', 'Huila', 'Tumaco'], varieties: ['trinitario', 'criollo'] },
  { country: 'Ghana', regions: ['Ashanti', 'Western'], varieties: ['forastero'] },
  { country: "Côte d'Ivoire", regions: ['Soubré', 'San-Pédro'], varieties: ['forastero'] },
  { country: 'Madagascar', regions: ['Sambirano'], varieties: ['trinitario', 'criollo'] },
  { country: 'Dominican Republic', regions: ['Duarte', 'Hato Mayor'], varieties: ['trinitario'] },
  { country: 'Mexico', regions: ['Tabasco', 'Chiapas'], varieties: ['criollo', 'trinitario'] },
  { country: 'Belize', regions: ['Toledo'], varieties: ['trinitario'] },
  { country: 'Tanzania', regions: ['Kilombero'], varieties: ['trinitario', 'forastero'] },
  { country: 'Vietnam', regions: ['Bến Tre', 'Đồng Nai'], varieties: ['trinitario'] },
  { country: 'Papua New Guinea', regions: ['East New Britain'], varieties: ['trinitario'] },
  { country: 'Brazil', regions: ['Bahia', 'Pará'], varieties: ['forastero', 'trinitario'] },
  { country: 'Trinidad and Tobago', regions: ['Trinidad'], varieties: ['trinitario'] },
];

const SUPPLIER_PATTERNS = [
  'Cooperativa {r}',
  'Finca {n}',
  'Hacienda {n}',
  '{r} Cacao Growers',
  'Asociación {n}',
  '{n} Estate',
  '{r} Fermentary',
  'Casa {n}',
];
const NAMES = [
  'Esperanza',
  'La Fortuna',
  'San José',
  'El Paraíso',
  'Santa Rosa',
  'Los Andes',
  'Akwaba',
  'Nyame',
  'Mirador',
  'Tres Ríos',
  'Bella Vista',
  'Kakao',
  'Del Sol',
  'Aurora',
  'Palmira',
  'La Joya',
  'Ozolua',
  'Monte Verde',
];
const CERTIFICATIONS = ['Organic', 'Fairtrade', 'Rainforest Alliance', 'Direct Trade', 'Heirloom Cacao Preservation'];
const GRADES = ['Fine flavour', 'Grade I', 'Grade II', 'Premium', 'Specialty', 'Bulk'];
const PROCESSES = [
  'Box-fermented 6 days',
  'Heap-fermented 5 days',
  'Tray-fermented 7 days',
  'Sun-dried on raised beds',
  'Slow-dried under shade',
];
const NOTES = [
  'red fruit',
  'caramel',
  'floral jasmine',
  'roasted nuts',
  'citrus zest',
  'molasses',
  'dried fig',
  'honey',
  'earthy spice',
  'malted grain',
  'blackberry',
  'brown butter',
];
const FIRST = [
  'Ana',
  'Luis',
  'Kwame',
  'Amara',
  'Sofía',
  'Mateo',
  'Chidi',
  'Elena',
  'Tomás',
  'Yaw',
  'Lucía',
  'Rafael',
  'Ama',
  'Diego',
  'Mai',
  'Nadia',
  'Omar',
  'Priya',
  'Jonas',
  'Ines',
];
const LAST = [
  'García',
  'Mensah',
  'Okafor',
  'Quispe',
  'Nguyen',
  'Rossi',
  'Boateng',
  'Silva',
  'Müller',
  'Herrera',
  'Diallo',
  'Costa',
  'Ramírez',
  'Kowalski',
  'Ito',
];

export interface SeedUser {
  id: number;
  email: string;
  name: string;
  role: Role;
  /** The plain password; seed.ts hashes it. */
  password: string;
  createdAt: string;
}
export interface SeedSupplier extends Supplier {
  ownerUserId: number;
}
export interface SeedListing extends ListingFields {
  id: number;
  supplierId: number;
  status: ListingStatus;
  createdAt: string;
}
export interface SeedOrder {
  id: number;
  buyerUserId: number;
  status: OrderStatus;
  currency: Currency;
  createdAt: string;
  items: { listingId: number; title: string; quantityKg: number; unitPriceCents: number }[];
}
export interface SeedData {
  users: SeedUser[];
  suppliers: SeedSupplier[];
  listings: SeedListing[];
  orders: SeedOrder[];
}

const iso = (ms: number): string => new Date(ms).toISOString();
const slug = (s: string): string =>
  s
    .normalize('NFD')
    .replace(/[^\w\s-]/g, '')
    .trim()
    .toLowerCase()
    .replace(/[\s_]+/g, '.');

/** The whole seed, computed from a fixed seed: 72 users, 40 suppliers, 360 listings, 600 orders. */
export function generateSeedData(seed = 20_260_930): SeedData {
  const rnd = new Random(seed);
  const users: SeedUser[] = [];
  const addUser = (u: Omit<SeedUser, 'id' | 'createdAt'>): SeedUser => {
    const user = { ...u, id: users.length + 1, createdAt: iso(ANCHOR - rnd.int(200, 900) * DAY) };
    users.push(user);
    return user;
  };

  const demoBuyer = addUser({ ...DEMO_ACCOUNTS.buyer, role: 'buyer' });
  const demoSupplier = addUser({ ...DEMO_ACCOUNTS.supplier, role: 'supplier' });
  addUser({ ...DEMO_ACCOUNTS.admin, role: 'admin' });

  const suppliers: SeedSupplier[] = [];
  const usedSupplierNames = new Set<string>();
  for (let i = 0; i < 40; i++) {
    const origin = i === 0 ? ORIGINS[0]! : rnd.pick(ORIGINS);
    const region = rnd.pick(origin.regions);
    let name = i === 0 ? 'Hacienda Santos' : '';
    while (!name || usedSupplierNames.has(name)) name = rnd.pick(SUPPLIER_PATTERNS).replace('{r}', region).replace('{n}', rnd.pick(NAMES));
    usedSupplierNames.add(name);
    const owner =
      i === 0
        ? demoSupplier
        : addUser({
            email: `${slug(name)}@growers.example`,
            name: `${rnd.pick(FIRST)} ${rnd.pick(LAST)}`,
            role: 'supplier',
            password: SEED_USER_PASSWORD,
          });
    suppliers.push({
      id: i + 1,
      ownerUserId: owner.id,
      name,
      country: origin.country,
      region,
      certifications: rnd.sample(CERTIFICATIONS, rnd.int(0, 3)).sort(),
      rating: rnd.chance(0.85) ? rnd.int(30, 50) / 10 : null,
      createdAt: iso(ANCHOR - rnd.int(150, 700) * DAY),
    });
  }

  const buyers = [demoBuyer];
  while (users.length < 72) {
    const first = rnd.pick(FIRST);
    const last = rnd.pick(LAST);
    buyers.push(
      addUser({
        email: `${slug(first)}.${slug(last)}.${users.length + 1}@roasters.example`,
        name: `${first} ${last}`,
        role: 'buyer',
        password: SEED_USER_PASSWORD,
      }),
    );
  }

  const listings: SeedListing[] = [];
  for (let i = 0; i < 360; i++) {
    // Every supplier gets at least eight listings; the demo supplier's are the first eight.
    const supplier = i < 320 ? suppliers[Math.floor(i / 8)]! : rnd.pick(suppliers);
    const origin = ORIGINS.find((o) => o.country === supplier.country)!;
    const region = rnd.chance(0.7) ? supplier.region : rnd.pick(origin.regions);
    const variety = rnd.pick(origin.varieties);
    const grade = rnd.pick(GRADES);
    const fine = grade !== 'Bulk' && grade !== 'Grade II';
    const notes = rnd.sample(NOTES, 2);
    const harvest = ANCHOR - rnd.int(20, 420) * DAY;
    listings.push({
      id: i + 1,
      supplierId: supplier.id,
      title: `${region} ${variety.charAt(0).toUpperCase() + variety.slice(1)} ${fine ? 'fine flavour beans' : 'beans'} — ${new Date(harvest).getUTCFullYear()} harvest`,
      originCountry: origin.country,
      originRegion: region,
      variety,
      grade,
      pricePerKgCents: fine ? rnd.int(650, 2400) : rnd.int(280, 620),
      currency: rnd.chance(0.8) ? 'USD' : 'EUR',
      stockKg: rnd.chance(0.08) ? 0 : rnd.int(2, 160) * 25,
      minOrderKg: rnd.pick([10, 25, 50, 60, 100]),
      harvestDate: iso(harvest).slice(0, 10),
      description: `${rnd.pick(PROCESSES)}. Tasting notes of ${notes[0]} and ${notes[1]}. Grown by ${supplier.name} in ${region}, ${origin.country}.`,
      status: rnd.chance(0.07) ? 'archived' : 'active',
      createdAt: iso(Math.min(harvest + rnd.int(10, 40) * DAY, ANCHOR - DAY)),
    });
  }

  const orders: SeedOrder[] = [];
  for (let i = 0; i < 600; i++) {
    const buyer = i < 6 ? demoBuyer : rnd.pick(buyers);
    const currency: Currency = rnd.chance(0.8) ? 'USD' : 'EUR';
    const pool = listings.filter((l) => l.currency === currency);
    const createdAtMs = ANCHOR - rnd.int(1, 540) * DAY + rnd.int(0, DAY - 1);
    const ageDays = (ANCHOR - createdAtMs) / DAY;
    const status: OrderStatus = rnd.chance(0.1)
      ? 'cancelled'
      : ageDays > 30
        ? 'shipped'
        : ageDays > 7
          ? rnd.pick(['confirmed', 'shipped'] as const)
          : rnd.pick(['placed', 'confirmed'] as const);
    orders.push({
      id: i + 1,
      buyerUserId: buyer.id,
      status,
      currency,
      createdAt: iso(createdAtMs),
      items: rnd.sample(pool, rnd.int(1, 3)).map((l) => ({
        listingId: l.id,
        title: l.title,
        quantityKg: l.minOrderKg * rnd.int(1, 6),
        unitPriceCents: l.pricePerKgCents,
      })),
    });
  }
  return { users, suppliers, listings, orders };
}
