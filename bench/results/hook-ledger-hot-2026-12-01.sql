\timing off
drop table if exists hot_a, hot_b;
create table hot_a (like campaigns_message including defaults);
insert into hot_a (id, phone, channel, attempt, message_id, callback_data, bulk_id, text, parts, encoding, state, reason, status_group, status_name, error_group, error_name, currency, created_at, claimed_at, accepted_at, campaign_id, contact_id)
select i, '4479460'||i, 'sms', 0, gen_random_uuid(), '', 'b', 'Hi there, our spring offers start today: 20% off for you.', 1, 'GSM7', 'accepted', '', 'PENDING', 'PENDING_ENROUTE', 'OK', 'NO_ERROR', 'EUR', now(), now(), now(), 1 + i % 2, i from generate_series(1, 200000) i;
create table hot_b (like hot_a including defaults) with (fillfactor = 70);
insert into hot_b select * from hot_a;
-- a: the ledger's indexes today
alter table hot_a add primary key (id);
create unique index on hot_a (message_id);
create index on hot_a (campaign_id, state, id);
create index on hot_a (contact_id, created_at desc);
create unique index on hot_a (campaign_id, contact_id, channel, attempt);
create index on hot_a (campaign_id, id);
create unique index on hot_a (replaces_id) where replaces_id is not null;
create index on hot_a (state, claimed_at) where state in ('sending', 'accepted');
create index on hot_a (campaign_id, not_before) where not_before is not null and state = 'queued';
create index on hot_a (created_at, contact_id) where replaces_id is null and state = 'delivered';
-- b: the same minus every index that names `state` (what a HOT report update would need), fill factor 70
alter table hot_b add primary key (id);
create unique index on hot_b (message_id);
create index on hot_b (contact_id, created_at desc);
create unique index on hot_b (campaign_id, contact_id, channel, attempt);
create index on hot_b (campaign_id, id);
create unique index on hot_b (replaces_id) where replaces_id is not null;
vacuum analyze hot_a; vacuum analyze hot_b;
checkpoint;
explain (analyze, wal, buffers, costs off, summary on) update hot_a set state = 'delivered', status_group = 'DELIVERED', status_name = 'DELIVERED_TO_HANDSET', done_at = now(), price = 0.005 where id between 1000 and 20999;
explain (analyze, wal, buffers, costs off, summary on) update hot_b set state = 'delivered', status_group = 'DELIVERED', status_name = 'DELIVERED_TO_HANDSET', done_at = now(), price = 0.005 where id between 1000 and 20999;
select relname, n_tup_upd, n_tup_hot_upd from pg_stat_user_tables where relname in ('hot_a', 'hot_b');
explain (analyze, wal, buffers, costs off, summary on) update hot_a set state = 'delivered', status_group = 'DELIVERED', status_name = 'DELIVERED_TO_HANDSET', done_at = now(), price = 0.005 where id between 40000 and 59999;
explain (analyze, wal, buffers, costs off, summary on) update hot_b set state = 'delivered', status_group = 'DELIVERED', status_name = 'DELIVERED_TO_HANDSET', done_at = now(), price = 0.005 where id between 40000 and 59999;
select pg_sleep(1);
select relname, n_tup_upd, n_tup_hot_upd from pg_stat_user_tables where relname in ('hot_a', 'hot_b');
drop table hot_a, hot_b;
