-- Every identifier with the customer it belongs to. A customer is one connected component
-- of identity_links; its customer_id is its smallest user_id, or, for people never
-- identified, 'anon:', 'email:' or 'social:' followed by their smallest identifier.
--
-- (intermediate; not published)
with components as (
    select * from identity_components
),

nodes as (
    select
        node,
        component,
        split_part(node, ':', 1) as identifier_type,
        substr(node, strpos(node, ':') + 1) as identifier
    from components
),

customer_keys as (
    select
        component,
        coalesce(
            identifier_customer_id('user_id', min(case when identifier_type = 'user_id' then identifier end)),
            identifier_customer_id('anonymous_id', min(case when identifier_type = 'anonymous_id' then identifier end)),
            identifier_customer_id('email', min(case when identifier_type = 'email' then identifier end)),
            identifier_customer_id('social_handle', min(case when identifier_type = 'social_handle' then identifier end))
        ) as customer_id
    from nodes
    group by component
)

select
    nodes.identifier_type,
    nodes.identifier,
    customer_keys.customer_id
from nodes
inner join customer_keys on customer_keys.component = nodes.component
