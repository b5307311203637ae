-- Reservations hold every item of an order at once, with the title and price at reservation time
-- (the order's lines), in the same shape as the monolith's, so they copy both ways unchanged.
-- The single-listing reservations of 001 never left development; they are replaced, not migrated.
DROP TABLE stock_reservations;

CREATE TABLE stock_reservations (
  key           text PRIMARY KEY,
  -- The buyer (or admin) who reserved; only they may release. A user of the auth service: no foreign key.
  owner_user_id bigint NOT NULL,
  status        text NOT NULL DEFAULT 'reserved' CHECK (status IN ('reserved', 'released')),
  created_at    timestamptz NOT NULL DEFAULT now(),
  released_at   timestamptz
);

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
