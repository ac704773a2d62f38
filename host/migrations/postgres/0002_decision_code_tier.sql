-- Which compiler's code made each decision: 'optimized' (Cranelift), 'baseline'
-- (Winch, briefly after a hot swap) or 'native' (policy logic compiled into the host,
-- benchmarks only). Every decision before this migration ran optimized code.
ALTER TABLE sluice_decisions ADD COLUMN code_tier TEXT NOT NULL DEFAULT 'optimized';
