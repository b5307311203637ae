-- The seams the extraction needs, made inside the monolith first (the strangler's step zero).

-- 1. Ids that cannot collide. The monolith hands out ids below 1 000 000 000; the extracted
--    services hand out ids from there up. Rows created on either side while a route moves are
--    copied to the other side with their ids, so the ranges must never meet.
ALTER TABLE users       ALTER COLUMN id SET MAXVALUE 999999999;
ALTER TABLE suppliers   ALTER COLUMN id SET MAXVALUE 999999999;
ALTER TABLE listings    ALTER COLUMN id SET MAXVALUE 999999999;
ALTER TABLE orders      ALTER COLUMN id SET MAXVALUE 999999999;
ALTER TABLE order_items ALTER COLUMN id SET MAXVALUE 999999999;

-- 2. No foreign keys across the future services' boundaries. The rows of users (auth), suppliers
--    and listings (listings), and orders (orders) will be written by different services and copied
--    back here each on its own schedule: a parent may arrive after its child. Each service checks
--    its references through the other's API, as the extracted services do.
ALTER TABLE suppliers        DROP CONSTRAINT IF EXISTS suppliers_owner_user_id_fkey;
ALTER TABLE orders           DROP CONSTRAINT IF EXISTS orders_buyer_user_id_fkey;
ALTER TABLE order_items      DROP CONSTRAINT IF EXISTS order_items_listing_id_fkey;
ALTER TABLE idempotency_keys DROP CONSTRAINT IF EXISTS idempotency_keys_user_id_fkey;

-- 3. Stock is taken by reservation. Orders no longer lock and change listing rows themselves: they
--    reserve the stock through the listings API (/api/reservations), whichever side serves it, and
--    release the reservation when an order is cancelled or fails.
CREATE TABLE stock_reservations (
  key           text PRIMARY KEY,
  -- The buyer (or admin) who reserved; only they may release. A user of the auth service: no foreign key.
  owner_user_id bigint NOT NULL,
  status        text NOT NULL DEFAULT 'reserved' CHECK (status IN ('reserved', 'released')),
  created_at    timestamptz NOT NULL DEFAULT now(),
  released_at   timestamptz
);

-- What a reservation holds, with the title and price at reservation time: the order's lines.
CREATE TABLE stock_reservation_items (
  reservation_key  text NOT NULL REFERENCES stock_reservations (key),
  listing_id       bigint NOT NULL REFERENCES listings (id),
  title            text NOT NULL,
  quantity_kg      integer NOT NULL CHECK (quantity_kg > 0),
  unit_price_cents integer NOT NULL CHECK (unit_price_cents > 0),
  currency         text NOT NULL CHECK (currency IN ('USD', 'EUR')),
  PRIMARY KEY (reservation_key, listing_id)
);
CREATE INDEX stock_reservation_items_listing ON stock_reservation_items (listing_id);

-- The order's reservation (a listings row: no foreign key across the boundary).
ALTER TABLE orders ADD COLUMN reservation_key text;

-- Orders placed before reservations existed hold their stock too: give every open one its
-- reservation, so cancelling it gives the stock back the same way.
INSERT INTO stock_reservations (key, owner_user_id, status, created_at)
  SELECT 'order:' || id, buyer_user_id, 'reserved', created_at FROM orders WHERE status IN ('placed', 'confirmed');
INSERT INTO stock_reservation_items (reservation_key, listing_id, title, quantity_kg, unit_price_cents, currency)
  SELECT 'order:' || o.id, i.listing_id, i.listing_title, i.quantity_kg, i.unit_price_cents, o.currency
  FROM order_items i JOIN orders o ON o.id = i.order_id WHERE o.status IN ('placed', 'confirmed');
UPDATE orders SET reservation_key = 'order:' || id WHERE status IN ('placed', 'confirmed');
