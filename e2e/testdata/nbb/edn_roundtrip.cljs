;; Clojure's EDN against ours, both ways: every case is printed by pr-str, sent
;; as [:nbb-hub/case data], read and re-printed by the hub inside
;; [:sente-lite/echo {:original-data data ...}], and read back here with
;; clojure.edn/read-string. Printed per case:
;;   [:case {:name n :answer <event id> :equal (= sent echoed) :same-types ...}]
;; (:same-types also tells a list from a vector, which = does not.)
;; Then the same cases pipelined (the hub batches the echoes), and callbacks.
;; Args: ws-url
(ns edn-roundtrip
  (:require [hub-client :as hc]
            [promesa.core :as p]))

(defn shape
  "The value with every leaf replaced by its type and collections tagged with
  their kind; map keys and set elements keep their values."
  [x]
  (cond
    (nil? x) :nil
    (boolean? x) :boolean
    (string? x) :string
    (keyword? x) :keyword
    (symbol? x) :symbol
    (number? x) :number
    (inst? x) :inst
    (uuid? x) :uuid
    (map? x) [:map (into {} (map (fn [[k v]] [[k (shape k)] (shape v)])) x)]
    (set? x) [:set (into #{} (map (fn [e] [e (shape e)])) x)]
    (vector? x) [:vector (mapv shape x)]
    (seq? x) [:list (mapv shape x)]
    :else [:other (str (type x))]))

(defn nested [depth]
  (reduce (fn [acc i] (if (even? i) {:level i :next acc} [i acc])) :bottom (range depth)))

(def cases
  [["keyword" :plain]
   ["namespaced-keyword" :my-app/hello]
   ["keywords-odd-chars" [:a.b/c-d? :x/y*z! :a-b_c+d :<=> :a.b-c*d+e!f_g?h$i%j&k=l<m>n:o#p'q]]
   ["symbols" ['foo 'my.ns/bar 'a-b? '/]]
   ["string-quotes-backslashes" "say \"hi\" C:\\path\\to \\n is not a newline \\\""]
   ["string-newlines-tabs" "line1\nline2\r\nline3\ttabbed\n"]
   ["string-controls" "nul\u0000 bell\u0007 bs\b ff\f esc\u001b us\u001f del\u007f"]
   ["string-unicode" "héllo ∑ 日本語 Ελληνικά nbsp\u00a0 ls\u2028 ps\u2029 bom\ufeff"]
   ["string-emoji" "😀 👍🏽 🇩🇪 👨‍👩‍👧 e\u0301 𝄞"]
   ["string-edn-looking" "[:a/b \"c\"] ; #_ ##NaN \\backspace { #:ns{:a 1} #inst \"x\" \\u0041"]
   ["empty-string" ""]
   ["nil" nil]
   ["true" true]
   ["false" false]
   ["booleans-and-nil" [true false nil]]
   ["integers" [0 -1 42 -42 1000000 9007199254740991 -9007199254740991]]
   ["floats" [1.5 -2.5 0.1 0.5e-3 3.141592653589793 1e-7 1.7976931348623157e308 5e-324 1e21 6.02e23 -1.25e-10]]
   ["inst" #inst "2024-02-29T23:59:59.999-00:00"]
   ["inst-epoch" (js/Date. 0)]
   ["uuid" #uuid "550e8400-e29b-41d4-a716-446655440000"]
   ["vector" [1 "two" :three [4 [5 []]] {} #{}]]
   ["set" #{1 "s" :k :ns/k nil true 2.5}]
   ["nested-map" {:user {:name "Ada" :roles #{:admin :dev} :meta {:x/y [1 {:z nil}] :plain 2}}
                  "string-key" 1
                  42 :int-key
                  nil :nil-key
                  :ns/k {:a/b {:c/d "deep" :e 1} :f 2}}]
   ["map-mixed-namespaces" {:user/id 1 :name "Ada" :acct/id 2}]
   ["everything" {:kw :a/b :s "\"q\"\n😀" :n [1 1.5 -0.25] :t true :f false :nil nil
                  :inst #inst "2000-01-01T00:00:00.000-00:00"
                  :uuid #uuid "00000000-0000-0000-0000-000000000000"
                  :set #{:x "y" 3} :vec [[] {} #{}]}]
   ["deeply-nested" (nested 60)]
   ["big-string" (apply str (repeat 20000 "ab😀\n\"\\"))]
   ;; Known to differ (the Go test says exactly how): Clojure's default
   ;; printer writes these in forms our reader refuses or reads as another type.
   ["ns-map-syntax" {:user/id 1 :user/name "Ada"}]
   ["ns-map-one-key" {:x/y 1}]
   ["integer-beyond-int64" 1e19]
   ["set-with-collection" #{[1 2] :k}]
   ["map-with-collection-key" {[1 2] :v}]
   ["list" '(1 (2 3) "x")]])

(def known-mismatch
  #{"set-with-collection" "map-with-collection-key" "list"})

(defn result [uid n sent [id echo :as ev]]
  (let [got (:original-data echo)
        r {:name n :answer id
           :equal (= sent got)
           :same-types (= (shape sent) (shape got))
           :event-id-ok (= :nbb-hub/case (:original-event-id echo))
           :conn-id-ok (= uid (:conn-id echo))
           :sent (pr-str sent)}]
    (cond-> r
      (not= id :sente-lite/echo) (assoc :answer-data echo)
      (not (and (:equal r) (:same-types r))) (assoc :got (pr-str got)))))

(defn main []
  (p/let [c (hc/connect (first *command-line-args*))
          {:keys [uid]} (hc/handshake! c)]
    (p/loop [[[n v] & more] cases]
      (when n
        (hc/send! c [:nbb-hub/case v])
        (p/let [ev (hc/recv-event! c)]
          (hc/out! :case (result uid n v ev))
          (p/recur more))))
    ;; Pipelined: every well-behaved case at once, so the hub's answers queue
    ;; up and arrive as batch frames [[:sente-lite/echo ...] ...].
    (let [good (remove (comp known-mismatch first) cases)
          batches-before @(:batches c)]
      (doseq [[_ v] good] (hc/send! c [:nbb-hub/case v]))
      (p/let [results (p/loop [[[n v] & more] good, acc []]
                        (if n
                          (p/let [ev (hc/recv-event! c)]
                            (p/recur more (conj acc (result uid n v ev))))
                          acc))]
        (hc/out! :pipelined {:count (count results)
                             :all-equal (every? #(and (:equal %) (:same-types %) (:event-id-ok %)) results)
                             :in-order (= (map first good) (map :name results))
                             :bad (vec (remove #(and (:equal %) (:same-types %)) results))
                             :batch-frames (- @(:batches c) batches-before)})))
    ;; Callback events: the hub answers [[ev data] "cb-id"] with the reply form
    ;; [answer "cb-id"]; for an event it has no handler for, answer is the echo map.
    (let [data {:q "?" :n 1.5 :s #{:a} :when #inst "2024-01-02T03:04:05.678-00:00"}]
      (hc/send-callback! c [:nbb-hub/ask data] "cb-1")
      (p/let [[kind answer cb] (hc/recv! c)]
        (hc/out! :callback {:kind kind :cb cb
                            :original-event-id (:original-event-id answer)
                            :equal (= data (:original-data answer))
                            :conn-id-ok (= uid (:conn-id answer))})))
    (hc/send-callback! c [:sente-lite/subscribe {:channel-id "cb-room"}] "cb-2")
    (p/let [[kind answer cb] (hc/recv! c)]
      (hc/out! :callback-subscribe {:kind kind :cb cb :answer answer}))
    (hc/send-callback! c [:chsk/ws-ping] "cb-3")
    (p/let [[kind answer cb] (hc/recv! c)]
      (hc/out! :callback-ping {:kind kind :cb cb :answer answer}))
    ;; A batch from the client, [[ev1 ...] [ev2 ...]], is read as its events in order.
    (let [evs [[:nbb-hub/b1 {:i 1}] [:nbb-hub/b2 "two"] [:nbb-hub/b3]]]
      (hc/send! c evs)
      (p/let [a (hc/recv-event! c) b (hc/recv-event! c) d (hc/recv-event! c)]
        (hc/out! :client-batch {:echoed (mapv (fn [[id e]] [id (:original-event-id e) (:original-data e)]) [a b d])})))
    (hc/close! c)))

(hc/run main)
