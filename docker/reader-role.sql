-- The read-only role BI tools (Superset, desktop SQL clients) log in with.
-- Run by psql with two variables, so the password never sits in a file:
--   psql -v reader_password=SECRET -v owner=ROLE -f reader-role.sql DATABASE
-- owner: the role that creates the warehouse's tables (the worker's login), whose future
-- tables, views and materialized views become readable as they are created.
-- Safe to run again: an existing role only gets its password set.
SELECT 'CREATE ROLE ctmirror_reader LOGIN'
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'ctmirror_reader') \gexec
ALTER ROLE ctmirror_reader WITH LOGIN PASSWORD :'reader_password';
GRANT CONNECT ON DATABASE :"DBNAME" TO ctmirror_reader;
GRANT USAGE ON SCHEMA public TO ctmirror_reader;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO ctmirror_reader;
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner" IN SCHEMA public
    GRANT SELECT ON TABLES TO ctmirror_reader;
