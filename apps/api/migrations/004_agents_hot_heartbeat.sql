-- jobrunner schema v4: heartbeats are the hottest write in the system (every agent, every interval).
-- The index on agents.last_heartbeat_at made every heartbeat a non-HOT update (a new index entry per
-- heartbeat, dead ones to vacuum). Its only readers are the reaper's markLost (a pass every half
-- interval over a table of at most some thousands of rows: a sequential scan is as cheap) and the
-- start-up listActive (once). Without it, and with free room left on each page, a heartbeat that
-- changes no indexed column updates the row in place (HOT).
DROP INDEX IF EXISTS agents_heartbeat_idx;
ALTER TABLE agents SET (fillfactor = 70);
