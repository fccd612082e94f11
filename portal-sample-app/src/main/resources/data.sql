DELETE FROM purchase;
DELETE FROM customer;
DELETE FROM exchange_rate;

INSERT INTO customer (id, name, email, region) VALUES
    (1, 'Ada Lovelace',        'ada@example.com',       'EU'),
    (2, 'Grace Hopper',        'grace@example.com',     'US'),
    (3, 'Katherine Johnson',   'katherine@example.com', 'US'),
    (4, 'Hedy Lamarr',         'hedy@example.com',      'EU'),
    (5, 'Radia Perlman',       'radia@example.com',     'US'),
    (6, 'Margaret Hamilton',   'margaret@example.com',  'US'),
    (7, 'Sophie Wilson',       'sophie@example.com',    'EU'),
    (8, 'Mary Kenneth Keller', 'mary@example.com',      'APAC');

INSERT INTO purchase (customer_id, amount, bought_on) VALUES
    (1, 120.00, DATE '2026-01-15'), (1, 80.50, DATE '2026-02-03'), (2, 42.00, DATE '2026-01-20'),
    (3, 310.25, DATE '2026-03-11'), (4, 15.99, DATE '2026-03-30'), (5, 999.00, DATE '2026-04-02'),
    (6, 64.10, DATE '2026-04-18'), (7, 230.00, DATE '2026-05-05'), (8, 18.75, DATE '2026-05-21'),
    (2, 77.70, DATE '2026-06-09'), (5, 12.30, DATE '2026-06-30'), (7, 45.00, DATE '2026-07-14');

INSERT INTO exchange_rate (currency, per_euro) VALUES
    ('USD', 1.080000), ('GBP', 0.850000), ('JPY', 160.500000), ('CHF', 0.950000);

-- the rows above set their ids; new customers get ids from 100 on
ALTER TABLE customer ALTER COLUMN id RESTART WITH 100;
