-- Everything this system owns lives in schema kcg.
CREATE SCHEMA IF NOT EXISTS kcg;
