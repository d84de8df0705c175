-- The built-in agents fall back to the local `commands` model (it acts through the tools)
-- instead of `echo`, which is for development and tests only.
update agents
set llm = jsonb_set(
        llm, '{fallbacks}',
        coalesce((select jsonb_agg(case when f = 'echo' then 'commands' else f end order by i)
                  from jsonb_array_elements_text(llm -> 'fallbacks') with ordinality as x(f, i)),
                 '["commands"]'::jsonb))
where is_builtin;
