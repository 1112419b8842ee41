-- One step of connected components by label propagation: each node takes the smallest
-- component label among its neighbours, and jumps to its label's own label (so chains
-- collapse in few steps). Repeated by journey_analytics.identity until stable.
--
-- (intermediate; not published)
with links as (
    select * from identity_links
),

components as (
    select * from identity_components
),

from_neighbours as (
    select
        links.node_a as node,
        min(components.component) as component
    from links
    inner join components on components.node = links.node_b
    group by links.node_a
)

select
    from_neighbours.node,
    least(from_neighbours.component, coalesce(jumped.component, from_neighbours.component)) as component
from from_neighbours
left join components as jumped on jumped.node = from_neighbours.component
