-- One step of connected components by label propagation: each node takes the smallest
-- component label among its neighbours, and so does every node that shares its label (the
-- nodes of one label are already known to be one component, so they move as one), then
-- jumps to its label's own label. Moving labels as groups keeps the steps logarithmic: a
-- chain whose labels are shuffled (as hashed e-mails are) settles in a few steps, where
-- moving node by node needed about as many steps as the chain is long.
-- Repeated by journey_analytics.identity until stable.
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
),

from_label as (
    -- the smallest label any node of a label reached
    select
        current.component as label,
        min(from_neighbours.component) as component
    from from_neighbours
    inner join components as current on current.node = from_neighbours.node
    group by current.component
),

hooked as (
    select
        from_neighbours.node,
        least(from_neighbours.component, from_label.component) as component
    from from_neighbours
    inner join components as current on current.node = from_neighbours.node
    inner join from_label on from_label.label = current.component
)

select
    hooked.node,
    least(hooked.component, coalesce(jumped.component, hooked.component)) as component
from hooked
left join components as jumped on jumped.node = hooked.component
