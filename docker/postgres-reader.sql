-- Docker only: the webapp's read-only role of .env.example (`make stack` creates it by itself).
-- Runs after the schema files, as the image's superuser, on the first start of the volume.
CREATE ROLE stocks_reader LOGIN PASSWORD 'stocks_reader';
GRANT USAGE ON SCHEMA public TO stocks_reader;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO stocks_reader;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO stocks_reader;
