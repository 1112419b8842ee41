-- First guess of each identifier's connected component: the smallest node it links to.
-- identity_components_step.sql then refines it until nothing changes.
--
-- (intermediate; not published)
with links as (
    select * from identity_links
)

select
    node_a as node,
    min(node_b) as component
from links
group by node_a
