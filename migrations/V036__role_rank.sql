-- The order of roles wherever versions are listed or loaded: PRIMARY,
-- CHALLENGER, SHADOW. One definition for every query (Rust has the same
-- order in model_api::Role::load_order; a test checks that the two agree).
-- IMMUTABLE and plain SQL, so the planner inlines it: ordering by it costs
-- what the CASE it replaces cost.
CREATE FUNCTION kcg.role_rank(role text) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE role WHEN 'PRIMARY' THEN 0 WHEN 'CHALLENGER' THEN 1 WHEN 'SHADOW' THEN 2 END
$$;
