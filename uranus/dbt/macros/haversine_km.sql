{#- Great-circle distance in km with the radius PacketPulse uses everywhere (packetpulse-model's geo::haversine_m):
    greatCircleDistance's radius and precision differ between ClickHouse releases. -#}
{% macro haversine_km(lat1, lon1, lat2, lon2) -%}
(2 * 6371.0088 * asin(sqrt(pow(sin(({{ lat2 }} - {{ lat1 }}) * pi() / 360), 2)
    + cos({{ lat1 }} * pi() / 180) * cos({{ lat2 }} * pi() / 180) * pow(sin(({{ lon2 }} - {{ lon1 }}) * pi() / 360), 2))))
{%- endmacro %}
